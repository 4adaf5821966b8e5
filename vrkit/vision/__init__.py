"""Computer vision shared by calibration, tracking and latency: camera model, boards, blobs, video.

The ground layer for everything that looks at camera images (OpenCV conventions). It may import
numpy, scipy, cv2, ``vrkit.core`` and ``vrkit.math``; never OpenGL or the packages above it.
"""
