"""Media helpers: the ffprobe gate and ffmpeg wrappers (plain Python, no Django)."""
