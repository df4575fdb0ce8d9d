"""Wards as residents type them: no diacritics, abbreviations, no commas, extra words, typos, several matches."""

from __future__ import annotations

import json

import pytest

from bot.services.errors import InvalidInputError
from bot.services.wards import WardCandidate, _mapping_path, match_wards, normalize_ward
from bot.text import _underthesea

HONG_HA = "Phường Hồng Hà"  # today's ward of the old Phường Phúc Xá, Quận Ba Đình


@pytest.mark.parametrize(
    "typed",
    [
        "Phường Phúc Xá, Quận Ba Đình",
        "phuc xa ba dinh",
        "p. phúc xá q ba đình",
        "P.Phúc Xá, Q.Ba Đình",
        "phường phúc xá quận ba đình hn",
        "PHUONG PHUC XA QUAN BA DINH TP HA NOI",
        "nhà em ở phúc xá ba đình",
        "tại p phúc xá, ba đình, hà nội",
        "số 12 ngõ 5 phúc xá ba đình",
        "phuc xa ba dihn",  # a typo
        "phucxa badinh",  # no spaces
        "ph.phuc xa, q.ba dinh, tp.hn",
    ],
)
def test_the_issue_examples_are_recognised_and_converted(typed: str) -> None:
    assert match_wards(typed) == [WardCandidate(HONG_HA, "Phường Phúc Xá, Quận Ba Đình")]
    assert normalize_ward(typed).ward == HONG_HA and normalize_ward(typed).verified


@pytest.mark.parametrize(
    ("typed", "ward"),
    [
        # urban, old 3-level addresses
        ("hang trong hoan kiem", "Phường Hoàn Kiếm"),
        ("P. Hàng Trống, Q. Hoàn Kiếm", "Phường Hoàn Kiếm"),
        ("dich vong cau giay", "Phường Cầu Giấy"),
        ("phường dịch vọng quận cầu giấy hà nội", "Phường Cầu Giấy"),
        ("khuong trung thanh xuan", "Phường Khương Đình"),
        ("P Khương Trung - Q Thanh Xuân", "Phường Khương Đình"),
        ("quynh mai hai ba trung", "Phường Bạch Mai"),
        ("ph quỳnh mai, q.hai bà trưng", "Phường Bạch Mai"),
        ("van chuong dong da", "Phường Văn Miếu - Quốc Tử Giám"),
        ("nhat tan tay ho", "Phường Tây Hồ"),
        ("p.nhật tân q.tây hồ tp hà nội", "Phường Tây Hồ"),
        ("my dinh 1 nam tu liem", "Phường Từ Liêm"),
        ("Phường Mỹ Đình 1, Quận Nam Từ Liêm", "Phường Từ Liêm"),
        ("co nhue 2 bac tu liem", "Phường Đông Ngạc"),
        ("mo lao ha dong", "Phường Hà Đông"),
        ("p mộ lao hà đông", "Phường Hà Đông"),
        ("ngoc thuy long bien", "Phường Hồng Hà"),
        ("dai kim hoang mai", "Phường Định Công"),
        ("tôi sống ở đại kim, hoàng mai", "Phường Định Công"),
        # rural, old 3-level addresses
        ("xa bat trang gia lam", "Xã Bát Tràng"),
        ("tt trâu quỳ", "Xã Gia Lâm"),
        ("thi tran trau quy gia lam", "Xã Gia Lâm"),
        ("uy no dong anh", "Xã Đông Anh"),
        ("x. uy nỗ, h. đông anh", "Xã Đông Anh"),
        ("phu lo soc son", "Xã Sóc Sơn"),
        ("xã phù lỗ huyện sóc sơn", "Xã Sóc Sơn"),
        ("van phuc thanh tri", "Xã Nam Phù"),
        ("tt tây đằng ba vì", "Xã Minh Châu"),
        ("son loc son tay", "Phường Sơn Tây"),
        ("p sơn lộc tx sơn tây", "Phường Sơn Tây"),
        ("duong lam son tay", "Phường Sơn Tây"),
        ("xã đường lâm thị xã sơn tây", "Phường Sơn Tây"),
        ("tt phung dan phuong", "Xã Đan Phượng"),
        ("thạch hòa thạch thất", "Xã Hòa Lạc"),
        ("thach hoa thach that", "Xã Hòa Lạc"),
        ("tt van dinh ung hoa", "Xã Vân Đình"),
        # today's units, typed loosely
        ("hoan kiem", "Phường Hoàn Kiếm"),
        ("phuong van mieu quoc tu giam", "Phường Văn Miếu - Quốc Tử Giám"),
        ("Văn Miếu – Quốc Tử Giám", "Phường Văn Miếu - Quốc Tử Giám"),
        ("o cho dua", "Phường Ô Chợ Dừa"),
        ("xa hoa lac", "Xã Hòa Lạc"),
        ("huong son my duc", "Xã Hương Sơn"),
        ("Hồng Hà, Ba Đình", "Phường Hồng Hà"),  # today's ward with the old district out of habit
        ("p.láng", "Phường Láng"),
        ("phường Yên Hoà", "Phường Yên Hòa"),  # old-style tone placement
        ("hoang liet hoang mai", "Phường Hoàng Liệt"),
        ("dinh cong", "Phường Định Công"),
    ],
)
def test_realistic_variants_across_urban_and_rural_hanoi(typed: str, ward: str) -> None:
    found = match_wards(typed)
    assert [c.ward for c in found] == [ward]
    assert normalize_ward(typed) == normalize_ward(typed).__class__(ward, True, " ".join(typed.split()))


@pytest.mark.parametrize(
    ("typed", "wards"),
    [
        # one name, old wards in several districts
        ("minh khai", {"Phường Tây Tựu", "Phường Tương Mai", "Xã Dương Hòa"}),
        ("phường minh khai", {"Phường Tây Tựu", "Phường Tương Mai"}),
        # unaccented words that fit differently accented names
        ("van phuc", {"Phường Hà Đông", "Xã Nam Phù", "Xã Phúc Lộc"}),
        ("xuan dinh", {"Phường Xuân Đỉnh", "Xã Phúc Lộc"}),
        ("dong xuan", {"Phường Hoàn Kiếm", "Xã Yên Xuân", "Xã Sóc Sơn"}),
    ],
)
def test_several_units_are_all_offered(typed: str, wards: set[str]) -> None:
    found = match_wards(typed)
    assert {c.ward for c in found} == wards
    assert all(
        c.old for c in found if c.ward != "Phường Xuân Đỉnh"
    )  # the old address says which one is which
    assert normalize_ward(typed) == normalize_ward(typed).__class__(typed, False, typed)


def test_accents_typed_narrow_the_candidates() -> None:
    assert {c.ward for c in match_wards("Vạn Phúc")} == {"Phường Hà Đông", "Xã Nam Phù"}
    assert [c.ward for c in match_wards("Vân Phúc")] == ["Xã Phúc Lộc"]
    assert [c.ward for c in match_wards("xuân đỉnh")] == ["Phường Xuân Đỉnh"]
    assert [c.ward for c in match_wards("xã xuân đình")] == ["Xã Phúc Lộc"]
    assert [c.ward for c in match_wards("minh khai hai bà trưng")] == ["Phường Tương Mai"]


def test_candidate_label_names_the_old_address() -> None:
    (found,) = match_wards("phuc xa ba dinh")
    assert found.label == "Phường Hồng Hà (trước đây: Phường Phúc Xá, Quận Ba Đình)"
    assert match_wards("Phường Hoàn Kiếm")[0].label == "Phường Hoàn Kiếm"


def test_limit_caps_the_candidates() -> None:
    assert len(match_wards("minh khai", limit=2)) == 2


@pytest.mark.parametrize(
    "typed",
    [
        "asdkjh qwe",
        "Tổ 5 khu tập thể",
        "Xóm Chùa",
        "Quận Nam Từ Liêm",  # a district only: no ward can be chosen from it
        "nhà em ở làng bên cạnh trường học",  # a one-word name (Láng) inside a sentence is not enough
        "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh",
        "hoan kiemmmmm xyz abc",  # a typo farther than one edit
        "😀🏠 ở đâu đó",
    ],
)
def test_unrecognised_input_is_kept_as_typed(typed: str) -> None:
    assert match_wards(typed) == []
    assert normalize_ward(typed) == normalize_ward(typed).__class__(typed, False, typed)


def test_emoji_around_a_name_are_ignored() -> None:
    assert [c.ward for c in match_wards("🏠 phúc xá ba đình ❤️")] == [HONG_HA]


@pytest.mark.parametrize("typed", ["", "   ", "🙂🙂", ",,, ;;", "x" * 201, "phúc xá " * 30])
def test_empty_emoji_only_and_very_long_input_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        match_wards(typed)
    assert "phường/xã" in error.value.message
    with pytest.raises(InvalidInputError):
        normalize_ward(typed)


def test_a_typo_is_corrected_only_when_one_known_word_fits() -> None:
    assert [c.ward for c in match_wards("phuc xa ba dihn")] == [HONG_HA]
    assert [c.ward for c in match_wards("hoan kiemm")] == ["Phường Hoàn Kiếm"]
    assert match_wards("hoan kiemmm") == []


def test_every_old_hanoi_address_converts_as_underthesea_does() -> None:
    convert_address = _underthesea().convert_address  # without its torch pipelines
    path = _mapping_path()
    assert path is not None
    rows = json.loads(path.read_text(encoding="utf-8"))["ward_mapping"]
    pairs = sorted(
        {(r["old_ward"], r["old_district"]) for r in rows if r["old_province"] == "Thành phố Hà Nội"}
    )
    assert len(pairs) > 500
    for ward, district in pairs:
        expected = convert_address(f"{ward}, {district}, Thành phố Hà Nội").new.ward
        assert [c.ward for c in match_wards(f"{ward}, {district}")] == [expected], (ward, district)


def test_every_current_unit_is_recognised_by_its_own_name() -> None:
    path = _mapping_path()
    assert path is not None
    rows = json.loads(path.read_text(encoding="utf-8"))["ward_mapping"]
    names = sorted({r["new_ward"] for r in rows if r["new_province"] == "Thành phố Hà Nội"})
    assert len(names) == 126
    for name in names:  # a button's choice is stored through normalize_ward: it must come back verified
        assert normalize_ward(name) == normalize_ward(name).__class__(name, True, name)
