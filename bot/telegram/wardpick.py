"""The typed ward in a chat: one match is confirmed, several are offered as buttons, none is explained.

Used by /gopy (WARD step) and /phuongxa. The candidates offered are kept in the flow's draft (in
user_data); a button carries only a short random offer token and an index into that list, so a button
from an older offer, or forged data, is recognised as stale.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import format as fmt

if TYPE_CHECKING:
    from bot.services.wards import WardCandidate

OFFER = "ward_offer"  # draft key: {"token", "typed", "choices"}
KEEP = "keep"
SKIP_LABEL = "Bỏ qua"
KEEP_LABEL = "Giữ như đã gõ"
PATTERN = r"[0-9a-f]{4}:(\d{1,2}|keep)"  # after the flow's prefix
HOW_TO_TYPE = (
    "Bạn có thể gõ tên phường/xã hiện nay (ví dụ: Phường Hồng Hà, Xã Bát Tràng) hoặc địa chỉ cũ kèm "
    "quận/huyện (ví dụ: phuc xa ba dinh, p. Dịch Vọng q. Cầu Giấy), có dấu hay không dấu đều được."
)
NOT_FOUND = "Mình chưa nhận ra phường/xã «{typed}» ở Hà Nội. " + HOW_TO_TYPE
SEVERAL = "«{typed}» có thể là một trong các phường/xã dưới đây. Bạn chọn giúp mình nhé:"
STALE = "Lựa chọn này đã cũ. Bạn hãy gõ lại tên phường/xã nhé."


@dataclass(frozen=True)
class Offer:
    """What to say about a typed ward: the single match, or the text and buttons to send."""

    match: WardCandidate | None
    text: str
    keyboard: InlineKeyboardMarkup | None


async def recognise(typed: str) -> list[WardCandidate]:
    """The candidates for a typed ward (table building and matching off the event loop)."""
    from bot.services.wards import match_wards

    return await asyncio.to_thread(match_wards, typed)


def offer(draft: dict[str, Any], prefix: str, typed: str, matches: list[WardCandidate], skip: str) -> Offer:
    """Remember the candidates in the draft; one match needs no question, else buttons (plus keep and skip)."""
    draft.pop(OFFER, None)
    if len(matches) == 1:
        return Offer(matches[0], "", None)
    token = secrets.token_hex(2)
    draft[OFFER] = {"token": token, "typed": typed, "choices": [m.ward for m in matches]}
    rows = [
        [InlineKeyboardButton(m.label, callback_data=fmt.callback(prefix, token, i))]
        for i, m in enumerate(matches)
    ]
    rows.append(
        [
            InlineKeyboardButton(KEEP_LABEL, callback_data=fmt.callback(prefix, token, KEEP)),
            InlineKeyboardButton(SKIP_LABEL, callback_data=skip),
        ]
    )
    text = SEVERAL if matches else NOT_FOUND
    return Offer(None, text.format(typed=fmt.esc(typed)), InlineKeyboardMarkup(rows))


def chosen(draft: dict[str, Any], data: str) -> str | None:
    """The ward a button picked (a candidate, or the text as typed); None when stale or forged."""
    _, token, choice = data.split(":")
    current = draft.get(OFFER)
    if not isinstance(current, dict) or current.get("token") != token:
        return None
    if choice == KEEP:
        ward = str(current["typed"])
    elif int(choice) < len(current["choices"]):
        ward = str(current["choices"][int(choice)])
    else:
        return None
    draft.pop(OFFER, None)
    return ward


def describe(match: WardCandidate) -> str:
    """The recognised unit in bold, with the old address it came from (escaped HTML)."""
    old = f" (trước đây: {fmt.esc(match.old)})" if match.old else ""
    return f"<b>{fmt.esc(match.ward)}</b>{old}"


def confirmation(match: WardCandidate) -> str:
    """The recognised ward, as confirmed to the resident in /gopy."""
    return f"Phường/xã: {describe(match)}."
