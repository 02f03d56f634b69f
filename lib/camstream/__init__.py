"""Multi-viewer MJPEG camera firmware for OpenMV boards."""
