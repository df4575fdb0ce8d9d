"""Vietnamese texts and HTML formatting for Telegram replies: escaping, bold answering sentence, splitting."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

MAX_MESSAGE = 4096
MAX_CALLBACK_BYTES = 64

# --- fixed texts ----------------------------------------------------------------------------------

WELCOME = (
    "Xin chào! Mình là trợ lý của chương trình <b>Hà Nội thông minh, xanh, bền vững</b>.\n\n"
    "• Gõ một câu hỏi (có dấu hoặc không dấu) để nhận câu trả lời kèm nguồn tài liệu.\n"
    "• /gopy để gửi góp ý, phản ánh tới chính quyền.\n"
    "• /khaosat để tham gia các cuộc khảo sát ý kiến.\n"
    "• /theodoi để xem tình trạng các góp ý của bạn.\n"
    "• /help để xem tất cả các lệnh."
)
PRIVACY_NOTICE = (
    "<b>Thông báo về dữ liệu cá nhân</b> (Luật Bảo vệ dữ liệu cá nhân 91/2025/QH15)\n"
    "Câu hỏi bạn gõ không được lưu kèm danh tính của bạn, trừ câu hỏi mình chưa trả lời được khi bạn "
    "đồng ý nhận thông báo: mình giữ liên kết đó chỉ để gửi bạn câu trả lời của cán bộ khi có. "
    "Khi bạn gửi góp ý hoặc bỏ phiếu, "
    "mình lưu nội dung đó với một mã bí danh (không lưu tên, số điện thoại). Nếu bạn đồng ý nhận thông báo, "
    "mã trò chuyện được mã hóa và lưu riêng, chỉ để báo cho bạn kết quả xử lý, và bị xóa khi bạn rút lại đồng ý. Tin nhắn thoại được chuyển thành chữ ngay trên máy chủ của chương trình; "
    "bản ghi âm không được lưu. Bạn có thể rút lại đồng ý và xóa dữ liệu bất cứ lúc nào bằng /xoadulieu.\n"
    "Bạn có đồng ý để mình lưu góp ý, phiếu khảo sát và gửi thông báo cho bạn không?"
)
HELP_RESIDENT = (
    "<b>Các lệnh</b>\n"
    "/start - giới thiệu và thông báo về dữ liệu cá nhân\n"
    "/help - danh sách lệnh\n"
    "/gopy - gửi góp ý, phản ánh\n"
    "/phuongxa - phường/xã của bạn (cho khảo sát theo phường/xã)\n"
    "/theodoi - xem tình trạng góp ý của bạn\n"
    "/khaosat - các cuộc khảo sát đang mở\n"
    "/xoadulieu - rút lại đồng ý và xóa dữ liệu của bạn\n"
    "/huy - hủy thao tác đang làm\n"
    "Hoặc gõ thẳng câu hỏi về chương trình."
)
HELP_OFFICER = (
    "\n\n<b>Cán bộ</b>\n"
    "/baocao [từ ngày] [đến ngày] - xuất báo cáo XLSX và biểu đồ\n"
    "/xuly MÃ_PHIẾU TRẠNG_THÁI [ghi chú] - cập nhật tình trạng góp ý "
    "(moi, tiep_nhan, dang_xu_ly, da_xu_ly, tu_choi)"
)
HELP_ADMIN = (
    "\n\n<b>Quản trị</b>\n"
    "/capnhat - lập lại chỉ mục tài liệu\n"
    "Gửi tệp pdf, docx, txt, md, html (tối đa 20 MB) để thêm tài liệu\n"
    "/taokhaosat - tạo khảo sát mới\n"
    "/dongkhaosat ID - đóng khảo sát\n"
    "/chuatraloi - các câu hỏi chưa trả lời được, gộp theo ý nghĩa, để trả lời\n"
    "/themtu CÁCH NÓI THƯỜNG NGÀY = CÁCH NÓI TRONG VĂN BẢN - thêm từ đồng nghĩa\n"
    "/dstu - danh sách từ đồng nghĩa; /xoatu SỐ - xóa một từ"
)
CONSENT_THANKS = "Cảm ơn bạn đã đồng ý. Bạn có thể rút lại bất cứ lúc nào bằng /xoadulieu."
CONSENT_DECLINED = "Không sao cả. Bạn vẫn có thể đặt câu hỏi; mình sẽ không lưu góp ý hay phiếu của bạn."
REFUSED = "Xin lỗi, lệnh này chỉ dành cho cán bộ hoặc quản trị viên."
PRIVATE_ONLY = "Vui lòng dùng lệnh này trong cuộc trò chuyện riêng với mình để bảo vệ thông tin của bạn."
STICKER = "Mình chưa hiểu nhãn dán 🙂 Hãy gõ câu hỏi bằng chữ nhé."
VOICE = "Mình chưa nghe được tin nhắn thoại. Bạn hãy gõ câu hỏi bằng chữ nhé."
MEDIA = "Mình chỉ đọc tin nhắn chữ. Muốn gửi ảnh hoặc vị trí kèm phản ánh, hãy dùng /gopy."
FILE_REFUSED = "Xin lỗi, chỉ quản trị viên mới được gửi tài liệu cho mình. Bạn hãy gõ câu hỏi bằng chữ nhé."
EDITED = "Mình chỉ đọc tin nhắn mới. Bạn hãy gửi lại câu hỏi thành một tin nhắn mới nhé."
FORWARDED = "Mình không xử lý tin nhắn chuyển tiếp. Bạn hãy gõ trực tiếp câu hỏi của mình nhé."
UNKNOWN_COMMAND = "Mình không biết lệnh này. Gõ /help để xem các lệnh."
STALE_BUTTON = "Nút này đã hết hạn hoặc không hợp lệ."
FLOOD = "Bạn gửi nhanh quá. Vui lòng đợi một chút rồi thử lại nhé."
ERROR = "Xin lỗi, đã có lỗi xảy ra. Bạn vui lòng thử lại sau ít phút."
DB_DOWN = (
    "Xin lỗi, hệ thống lưu trữ đang tạm gián đoạn nên mình chưa thể ghi nhận yêu cầu này. "
    "Nội dung của bạn chưa được lưu, bạn vui lòng thử lại sau ít phút. Bạn vẫn có thể đặt câu hỏi."
)
NOT_COVERED = (
    "Xin lỗi, các tài liệu mình có chưa đề cập đến câu hỏi này. "
    "Bạn có thể gửi góp ý hoặc câu hỏi cho chính quyền bằng lệnh /gopy."
)
ENGLISH_NOTE = "<i>You asked in English: I answer from the city's Vietnamese documents, in Vietnamese.</i>"
SMALL_TALK = {
    "greeting": "Xin chào! Mình là trợ lý hỏi đáp về chương trình Hà Nội thông minh, xanh, bền vững. "
    "Bạn cứ gõ câu hỏi nhé.",
    "thanks": "Không có gì ạ! Bạn cần hỏi thêm gì cứ nhắn mình nhé.",
    "goodbye": "Tạm biệt bạn, chúc bạn một ngày tốt lành!",
    "about_bot": "Mình là trợ lý tự động của chương trình Hà Nội thông minh, xanh, bền vững: mình trả lời "
    "dựa trên tài liệu của chương trình, kèm nguồn, và nhận góp ý của bạn qua /gopy.",
    "joke": "Mình chỉ giỏi tra tài liệu thôi 😄 Bạn hỏi mình về chương trình của thành phố nhé.",
    "insult": "Xin lỗi vì mình chưa giúp được bạn. Bạn thử hỏi lại bằng cách khác, hoặc gửi góp ý qua /gopy nhé.",
    "smalltalk": "Mình là trợ lý tự động nên không trò chuyện được nhiều 🙂 "
    "Bạn hỏi mình về chương trình của thành phố, hoặc gửi phản ánh qua /gopy nhé.",
}
COMMAND_HELP = {
    "help_feedback": "Để gửi góp ý, phản ánh: gõ /gopy rồi làm theo từng bước (chủ đề, phường/xã, nội dung, "
    "có thể kèm ảnh hoặc vị trí). Bạn sẽ nhận mã phiếu để theo dõi.",
    "help_poll": "Để bỏ phiếu: gõ /khaosat để xem các cuộc khảo sát đang mở và bấm vào lựa chọn của bạn. "
    "Bạn có thể đổi phiếu cho đến khi khảo sát đóng.",
    "help_erase": "Để rút lại đồng ý và xóa dữ liệu của bạn (góp ý, phiếu khảo sát): gõ /xoadulieu.",
    "help_follow": "Để xem tình trạng các góp ý bạn đã gửi: gõ /theodoi.",
}
VOICE_ASKED = "🎙 Bạn hỏi: "  # first line of the reply to a voice question (also how its rating finds it)
VOICE_TOO_LONG = (
    "Tin nhắn thoại dài quá (tối đa {seconds} giây). Bạn hãy nói ngắn gọn hơn, hoặc gõ câu hỏi bằng chữ nhé."
)
VOICE_SILENT = (
    "Mình không nghe thấy tiếng nói nào trong tin nhắn thoại. "
    "Bạn hãy nói to và gần điện thoại hơn, hoặc gõ câu hỏi bằng chữ nhé."
)
VOICE_UNCLEAR = (
    "Xin lỗi, mình chưa nghe rõ. Bạn hãy nói chậm, gần điện thoại hơn ở nơi yên tĩnh, "
    "hoặc gõ câu hỏi bằng chữ nhé."
)
VOICE_UNREADABLE = "Mình không mở được tệp âm thanh này. Bạn hãy gửi tin nhắn thoại, hoặc gõ câu hỏi bằng chữ nhé."
VOICE_BUSY = (
    "Hiện có nhiều tin nhắn thoại đang chờ nên mình chưa nghe kịp. "
    "Bạn thử lại sau ít phút, hoặc gõ câu hỏi bằng chữ nhé."
)
VOICE_LIMITED = "Bạn đã gửi nhiều tin nhắn thoại liên tiếp. Bạn đợi vài phút rồi gửi tiếp, hoặc gõ bằng chữ nhé."
VOICE_LISTENING = "🎙 Mình đang nghe tin nhắn thoại của bạn, bạn đợi một chút nhé…"
VOICE_FEEDBACK_HEARD = (
    "🎙 Mình nghe được: «{text}»\n"
    "Nếu chưa đúng, bạn hãy ghi âm lại hoặc gõ chữ: nội dung mới sẽ thay thế. Bản ghi âm không được lưu."
)
HELPFUL_YES = "👍 Hữu ích"
HELPFUL_NO = "👎 Chưa đúng"
HELPFUL_THANKS = "Cảm ơn bạn đã đánh giá!"
AGREE = "Đồng ý"
DISAGREE = "Không đồng ý"
NOTHING_TO_CANCEL = "Hiện không có thao tác nào để hủy."
FLOW_TIMED_OUT = {
    "gopy": (
        "⌛ Phiên gửi góp ý đã kết thúc vì {minutes} phút không có phản hồi; góp ý chưa được gửi. "
        "Khi nào muốn gửi, bạn gõ /gopy nhé. Bạn vẫn có thể đặt câu hỏi bất cứ lúc nào."
    ),
    "taokhaosat": "⌛ Việc tạo khảo sát đã dừng vì {minutes} phút không có phản hồi. Gõ /taokhaosat để bắt đầu lại.",
    "phuongxa": "⌛ Việc lưu phường/xã đã dừng vì {minutes} phút không có phản hồi. Gõ /phuongxa khi bạn sẵn sàng.",
    "faq_answer": "⌛ Câu trả lời đang soạn đã bị hủy vì {minutes} phút không có phản hồi. Gõ /chuatraloi để làm lại.",
    "default": "⌛ Thao tác đang làm đã kết thúc vì {minutes} phút không có phản hồi.",
}

# --- admin uploads (bot/telegram/admin.py) ---
UPLOAD_BAD_PATH = (
    "Tên tệp có chứa đường dẫn thư mục (dấu / hoặc \\) nên mình không nhận. "
    "Hãy đặt lại tên tệp đơn giản (chữ, số, dấu gạch) rồi gửi lại."
)
UPLOAD_TOO_BIG = "Tệp quá lớn ({size} MB; tối đa {limit:g} MB). Hãy tách thành các tệp nhỏ hơn rồi gửi lại."
UPLOAD_REJECTED = (
    "❌ Không lưu tài liệu <b>{name}</b>: {reason}.\n"
    "Kho tài liệu và chỉ mục hiện tại không thay đổi."
)
UPLOAD_SAME = "Tài liệu <b>{name}</b> giống hệt bản đang có, không cần cập nhật."
UPLOAD_REPLACE_ASK = (
    "Kho tài liệu đã có <b>{name}</b>. Tệp mới đọc được, dài {chars} ký tự. "
    "Bạn muốn thay thế bản cũ bằng tệp vừa gửi không?"
)
UPLOAD_REPLACE = "Thay thế"
UPLOAD_KEEP = "Giữ bản cũ"
UPLOAD_REPLACED = "Đã thay thế <b>{name}</b> bằng bản mới."
UPLOAD_KEPT = "Đã giữ bản cũ của <b>{name}</b>; tệp mới đã được bỏ đi."
UPLOAD_EXPIRED = (
    "Yêu cầu thay thế này đã hết hạn, đã được trả lời, hoặc không hợp lệ. Nếu cần, hãy gửi lại tệp."
)


def esc(text: object) -> str:
    """Escape any user or document text for Telegram HTML."""
    return html.escape(str(text), quote=False)


def quote_answer(passage_text: str, highlight: str | None) -> str:
    """The passage as a blockquote with the answering sentence in bold (all text escaped)."""
    if highlight and highlight in passage_text:
        before, _, after = passage_text.partition(highlight)
        body = f"{esc(before)}<b>{esc(highlight)}</b>{esc(after)}"
    else:
        body = esc(passage_text)
    return f"<blockquote>{body.strip()}</blockquote>"


def answer_message(passage_text: str, highlight: str | None, title: str, source: str) -> str:
    """The reply to an answered question: quoted passage plus the named source."""
    name = title or source
    return f"{quote_answer(passage_text, highlight)}\n📄 Nguồn: <i>{esc(name)}</i>"


def bullet_list(title: str, lines: Iterable[str]) -> str:
    """A bold title followed by one escaped bullet per line."""
    return "\n".join([f"<b>{esc(title)}</b>", *(f"• {esc(line)}" for line in lines)])


# --- splitting ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"<[^>]+>|&[#\w]+;|[^<&]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z\-]+)[^>]*>")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _atoms(text: str) -> list[str]:
    """Split HTML into tags, entities and text pieces (text kept whole up to spaces/newlines)."""
    atoms: list[str] = []
    for token in _TOKEN.findall(text):
        if (token.startswith("<") and len(token) > 1) or token.startswith("&"):
            atoms.append(token)
        else:
            atoms.extend(piece for piece in re.split(r"(\s+)", token) if piece)
    return atoms


def _closing(open_tags: Sequence[str]) -> str:
    """Closing tags for the currently open tags, innermost first."""
    return "".join(f"</{_TAG.match(tag).group(2)}>" for tag in reversed(open_tags))  # type: ignore[union-attr]


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split an HTML message into parts within `limit`, at line breaks when possible, tags balanced."""
    if utf16_len(text) <= limit:
        return [text]
    budget = limit - 64  # room for closing and reopening tags
    parts: list[str] = []
    open_tags: list[str] = []
    current = ""
    for unit in _units(text, budget):
        if current.strip() and utf16_len(current + unit) > budget:
            parts.append(current + _closing(open_tags))
            current = "".join(open_tags)
        current += unit
        _track_tags(unit, open_tags)
    if current.strip():
        parts.append(current + _closing(open_tags))
    return [part.strip() for part in parts if part.strip()]


def _units(text: str, budget: int) -> list[str]:
    """Lines (with their newline); a line over the budget becomes its atoms, long atoms are sliced."""
    units: list[str] = []
    for line in text.splitlines(keepends=True):
        if utf16_len(line) <= budget:
            units.append(line)
            continue
        piece = budget - 200  # leaves room for the tags reopened at the start of a part
        for atom in _atoms(line):
            while utf16_len(atom) > piece:
                units.append(atom[: piece // 2 if utf16_len(atom[:piece]) > piece else piece])
                atom = atom[len(units[-1]) :]
            units.append(atom)
    return units


def _track_tags(unit: str, open_tags: list[str]) -> None:
    """Update the stack of open tags with the tags found in `unit`."""
    for match in _TAG.finditer(unit):
        if match.group(1):
            if open_tags:
                open_tags.pop()
        else:
            open_tags.append(match.group(0))


def callback(*parts: Any) -> str:
    """Join ids into callback data, checking Telegram's 64-byte limit."""
    data = ":".join(str(p) for p in parts)
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data
