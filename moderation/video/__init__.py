"""Video media: safe decoding (PyAV, in memory, under limits), vPDQ-style frame hashes,
video-to-video matching, evenly spaced frames for classifiers and a blurred contact sheet."""

from moderation.video.decoding import probe_video
from moderation.video.hashing import FrameHash, hash_video
from moderation.video.matching import VideoMatch, match_videos
from moderation.video.model import VideoDecodeError, VideoInfo, VideoLimits
from moderation.video.preview import contact_sheet, sample_frames

__all__ = [
    "FrameHash",
    "VideoDecodeError",
    "VideoInfo",
    "VideoLimits",
    "VideoMatch",
    "contact_sheet",
    "hash_video",
    "match_videos",
    "probe_video",
    "sample_frames",
]
