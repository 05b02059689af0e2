"""Hardware drivers: the only code that touches audio devices, GPIO and the camera."""
