"""Wards typed the way residents type them, through the real bot against the fake Bot API:
/gopy (one match confirmed, several offered as buttons, none kept as typed) and /phuongxa with ward polls.
"""

from __future__ import annotations

from pathlib import Path

from bot.telegram import format as fmt
from bot.telegram import profile, wardpick
from tests.telegram.fake_bot_api import Call, FakeBotApi
from tests.telegram.test_bot import QUICK, bot_settings, buttons, consent, press, reply_to, say, visible
from tests.telegram.test_bot_flows import pseudonym, running, service

USER = 9201


async def gopy_ward(fake: FakeBotApi, user: int, ward: str) -> Call:
    """A consenting resident starts /gopy, picks «Giao thông» and types `ward`; return the bot's answer."""
    categories = await say(fake, user, "/gopy")
    await press(fake, user, categories.result, "gc:1")
    assert "phường/xã" in visible(await reply_to(fake, user))
    return await say(fake, user, ward)


async def finish(fake: FakeBotApi, user: int, text: str) -> tuple[str, str]:
    """Send the content and «Gửi»; return (summary text, ticket)."""
    summary = await say(fake, user, text)
    await press(fake, user, summary.result, "gs:send")
    ticket = visible(await reply_to(fake, user)).split("Mã phiếu: ")[1].split()[0]
    return visible(summary), ticket


async def edited(fake: FakeBotApi, user: int, needle: str) -> Call:
    """The message the bot edits in this chat to show `needle` (the chosen ward)."""
    return await fake.wait_for(
        "editMessageText", lambda c: c.chat_id == user and c.status == 200 and needle in visible(c), QUICK
    )


async def test_gopy_recognises_an_unaccented_old_address(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index)
    async with running(settings):
        await consent(fake, USER)
        answer = visible(await gopy_ward(fake, USER, "phuc xa ba dinh"))
        assert (
            "Phường Hồng Hà" in answer and "Phường Phúc Xá, Quận Ba Đình" in answer and "nội dung" in answer
        )
        summary, ticket = await finish(fake, USER, "Vỉa hè bị lấn chiếm")
        assert "Phường/xã: Phường Hồng Hà" in summary
    assert service(settings, feedback.get_feedback, ticket=ticket).ward == "Phường Hồng Hà"


async def test_gopy_offers_several_wards_as_buttons_and_stores_the_choice(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index, database_url=database_url)
    async with running(settings):
        await consent(fake, USER)
        offer = await gopy_ward(fake, USER, "minh khai")
        assert "minh khai" in visible(offer) and "chọn" in visible(offer)
        choices = dict(buttons(offer))
        assert all(len((data or "").encode()) <= 64 for data in choices.values())
        assert not any("Minh" in (data or "") for data in choices.values())  # ids, never names
        label = "Phường Tương Mai (trước đây: Phường Minh Khai, Quận Hai Bà Trưng)"
        assert label in choices and wardpick.KEEP_LABEL in choices and wardpick.SKIP_LABEL in choices
        data = choices[label] or ""
        prefix, token, _ = data.split(":")
        forged = await press(fake, USER, offer.result, f"{prefix}:{token}:9")
        assert forged.params["text"] == wardpick.STALE
        other_offer = await press(
            fake, USER, offer.result, f"{prefix}:{'0000' if token != '0000' else '1111'}:0"
        )
        assert other_offer.params["text"] == wardpick.STALE
        await press(fake, USER, offer.result, data)
        assert visible(await edited(fake, USER, "Tương Mai")) == "Phường/xã: Phường Tương Mai"
        assert "nội dung" in visible(await reply_to(fake, USER))
        late = await press(fake, USER, offer.result, data)  # the same button again, after the step
        assert late.params["text"] == fmt.STALE_BUTTON
        summary, ticket = await finish(fake, USER, "Đèn tín hiệu hỏng ở ngã tư")
        assert "Phường/xã: Phường Tương Mai" in summary
    assert service(settings, feedback.get_feedback, ticket=ticket).ward == "Phường Tương Mai"


async def test_gopy_unknown_ward_explains_and_can_be_kept_as_typed(
    fake: FakeBotApi, index: Path, tmp_path: Path
) -> None:
    from bot.services import feedback

    settings = bot_settings(fake, tmp_path, index)
    async with running(settings):
        await consent(fake, USER)
        refused = await gopy_ward(fake, USER, "🙂🙂")
        assert "phường/xã" in visible(refused) and "Bỏ qua" in visible(refused)
        unknown = await say(fake, USER, "Xóm <Chùa>")
        assert "chưa nhận ra" in visible(unknown) and "Xóm <Chùa>" in visible(unknown)
        assert "phuc xa ba dinh" in visible(unknown)  # how to type it
        choices = dict(buttons(unknown))
        assert set(choices) == {wardpick.KEEP_LABEL, wardpick.SKIP_LABEL}
        await press(fake, USER, unknown.result, choices[wardpick.KEEP_LABEL] or "")
        assert visible(await edited(fake, USER, "Xóm")) == "Phường/xã: Xóm <Chùa>"
        assert "nội dung" in visible(await reply_to(fake, USER))
        summary, ticket = await finish(fake, USER, "Đường làng ngập nước")
        assert "Phường/xã: Xóm <Chùa>" in summary
    assert service(settings, feedback.get_feedback, ticket=ticket).ward == "Xóm <Chùa>"


async def test_phuongxa_lets_a_resident_vote_in_a_ward_poll(
    fake: FakeBotApi, index: Path, tmp_path: Path, database_url: str
) -> None:
    from bot.services import polls, residents
    from bot.services.roles import Actor, Role

    settings = bot_settings(fake, tmp_path, index, database_url=database_url)
    async with running(settings):
        poll = service(
            settings,
            polls.create_poll,
            actor=Actor("cli:test", Role.ADMIN),
            wards=["Phường Tương Mai"],
            question="Có nên làm thêm bãi đỗ xe?",
            options=["Có", "Không"],
            visibility="after_vote",
        )
        await consent(fake, USER)
        assert visible(await say(fake, USER, "/khaosat")) == "Hiện chưa có cuộc khảo sát nào đang mở cho bạn."
        prompt = visible(await say(fake, USER, "/phuongxa"))
        assert "phường/xã nào" in prompt and "đang lưu" not in prompt
        offer = await say(fake, USER, "phuong minh khai")
        assert len(buttons(offer)) == 4  # two old Phường Minh Khai, keep, skip
        typed_again = visible(await say(fake, USER, "p. minh khai, q. hai bà trưng"))
        assert "Đã lưu phường/xã của bạn: Phường Tương Mai" in typed_again
        card = await say(fake, USER, "/khaosat")
        assert "bãi đỗ xe" in visible(card)
        yes = buttons(card)[0][1] or ""
        assert "Đã ghi nhận lựa chọn: Có" in (await press(fake, USER, card.result, yes)).params["text"]
        assert "đang lưu: Phường Tương Mai" in visible(await say(fake, USER, "/phuongxa"))
        assert visible(await say(fake, USER, "/huy")) == profile.UNCHANGED
    info = service(settings, residents.get_resident, pseudonym=pseudonym(settings, USER))
    assert (info.ward, info.ward_verified) == ("Phường Tương Mai", True)
    results = service(settings, polls.poll_results, poll_id=poll.id, actor=Actor("cli:test", Role.ADMIN))
    assert [c.count for c in results.by_option] == [1, 0]


async def test_phuongxa_buttons_keep_and_groups(fake: FakeBotApi, index: Path, tmp_path: Path) -> None:
    from bot.services import residents

    settings = bot_settings(fake, tmp_path, index)
    key = pseudonym(settings, USER)
    async with running(settings):
        fake.send_command(USER, "phuongxa", "tt trâu quỳ")
        assert "Đã lưu phường/xã của bạn: Xã Gia Lâm (trước đây: Thị trấn Trâu Quỳ" in visible(
            await reply_to(fake, USER)
        )
        await say(fake, USER, "/phuongxa")
        offer = await say(fake, USER, "van phuc")
        choices = dict(buttons(offer))
        assert len(choices) == 5 and "Xã Nam Phù (trước đây: Xã Vạn Phúc, Huyện Thanh Trì)" in choices
        await press(
            fake, USER, offer.result, choices["Xã Nam Phù (trước đây: Xã Vạn Phúc, Huyện Thanh Trì)"] or ""
        )
        assert "Đã lưu phường/xã của bạn: Xã Nam Phù" in visible(await reply_to(fake, USER))
        stale = await press(fake, USER, offer.result, choices[wardpick.KEEP_LABEL] or "")
        assert stale.params["text"] == fmt.STALE_BUTTON  # the flow has ended: the old offer is gone
        assert service(settings, residents.get_resident, pseudonym=key).ward == "Xã Nam Phù"
        await say(fake, USER, "/phuongxa")
        unknown = await say(fake, USER, "khu tập thể nhà máy dệt")
        assert "chưa nhận ra" in visible(unknown)
        await press(fake, USER, unknown.result, dict(buttons(unknown))[wardpick.KEEP_LABEL] or "")
        assert "Đã lưu như bạn gõ" in visible(await reply_to(fake, USER))
        info = service(settings, residents.get_resident, pseudonym=key)
        assert (info.ward, info.ward_verified) == ("khu tập thể nhà máy dệt", False)
        await say(fake, USER, "/phuongxa")
        skip = await say(fake, USER, "asdf qwer")
        await press(fake, USER, skip.result, dict(buttons(skip))[wardpick.SKIP_LABEL] or "")
        assert visible(await reply_to(fake, USER)) == profile.UNCHANGED
        fake.send_text(USER, "/phuongxa", chat_id=-100555, chat_type="supergroup")
        assert visible(await reply_to(fake, -100555)) == fmt.PRIVATE_ONLY
        assert "phuongxa" in fake.commands()
    assert service(settings, residents.get_resident, pseudonym=key).ward == "khu tập thể nhà máy dệt"
