"""Errors raised by the services: each carries a Vietnamese message that can be shown to the user as is."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: `message` is a user-presentable Vietnamese sentence."""

    default_message = "Không thực hiện được yêu cầu."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidInputError(ServiceError):
    """The input breaks a rule (length, unknown category, bad date...); nothing was written."""

    default_message = "Dữ liệu không hợp lệ."


class NotFoundError(ServiceError):
    """An id, ticket or resident that does not exist."""

    default_message = "Không tìm thấy dữ liệu yêu cầu."


class ConsentRequiredError(ServiceError):
    """The resident has not given (or has withdrawn) consent for this purpose."""

    default_message = "Bạn cần đồng ý cho phép xử lý dữ liệu cho mục đích này trước."

    def __init__(self, purpose: str, message: str | None = None) -> None:
        self.purpose = purpose
        super().__init__(message)


class PollClosedError(ServiceError):
    """The poll has closed: no more votes, changes or withdrawals."""

    default_message = "Khảo sát đã kết thúc, không thể bỏ phiếu hoặc thay đổi nữa."


class PollNotOpenError(ServiceError):
    """The poll has not opened yet."""

    default_message = "Khảo sát chưa mở, vui lòng quay lại sau."


class OutOfScopeError(ServiceError):
    """The poll is limited to wards that do not include the resident's ward."""

    default_message = "Khảo sát này chỉ dành cho cư dân của một số phường/xã nhất định."


class ResultsHiddenError(ServiceError):
    """Poll results are not visible to this viewer yet."""

    default_message = "Kết quả khảo sát chưa được công bố."


class PermissionDeniedError(ServiceError):
    """The actor lacks the role needed (officer or admin)."""

    default_message = "Bạn không có quyền thực hiện thao tác này."


class InvalidTransitionError(InvalidInputError):
    """A feedback status change that the workflow does not allow."""

    default_message = "Không thể chuyển góp ý sang trạng thái này."


class DatabaseUnavailableError(ServiceError):
    """The database cannot be reached (or stays locked); nothing was written."""

    default_message = "Hệ thống lưu trữ tạm thời không truy cập được, vui lòng thử lại sau ít phút."
