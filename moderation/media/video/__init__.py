"""Video media: safe decoding (PyAV, in memory, under limits), vPDQ-style frame hashes,
video-to-video matching, evenly spaced frames for classifiers and a blurred contact sheet."""

from moderation.media.video.decoding import probe_video
from moderation.media.video.hashing import FrameHash, hash_video
from moderation.media.video.matching import VideoMatch, match_videos
from moderation.media.video.model import VideoDecodeError, VideoInfo, VideoLimits
from moderation.media.video.preview import contact_sheet, sample_frames

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
