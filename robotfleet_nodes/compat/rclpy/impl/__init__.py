"""``rclpy.impl``: where rclpy keeps its logger and severities (``rclpy.impl.rcutils_logger``)."""

__all__: list[str] = []
