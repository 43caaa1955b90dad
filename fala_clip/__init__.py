"""fala-clip: long videos in, short vertical clips out."""
