"""Errors of the search layer; each carries a user-presentable Vietnamese `.message`."""

from __future__ import annotations

_REBUILD_HINT = "Quản trị viên hãy chạy lệnh `citizenbot index build` để xây dựng lại chỉ mục."


class SearchError(Exception):
    """Base error of the search layer."""

    default_message = "Đã có lỗi khi tra cứu tài liệu."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidQuestionError(SearchError):
    """The question cannot be searched (empty, too long, no Vietnamese letters...)."""

    default_message = "Câu hỏi không hợp lệ. Xin hãy đặt câu hỏi bằng tiếng Việt."


class IndexMissingError(SearchError):
    """No built index in the index directory."""

    default_message = f"Chưa có chỉ mục tài liệu. {_REBUILD_HINT}"


class IndexIncompatibleError(SearchError):
    """The index was built with another encoder, dimension or format."""

    default_message = f"Chỉ mục tài liệu không tương thích với cấu hình hiện tại. {_REBUILD_HINT}"


class NothingIndexableError(SearchError):
    """A build found no readable document; the previous index is kept."""

    default_message = "Không có tài liệu nào đọc được để lập chỉ mục; chỉ mục cũ vẫn được giữ nguyên."


class EncoderUnavailableError(SearchError):
    """The configured embedding backend cannot be loaded on this machine."""

    default_message = "Không tải được mô hình nhúng (embedding) đã cấu hình."
