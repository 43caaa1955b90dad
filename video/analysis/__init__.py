"""Video analysers: plain functions over files and arrays, no Django.

Entry point: :func:`video.analysis.pipeline.analyze_video`. Heavy libraries
(torch, cv2, onnxruntime, transformers) are imported inside the steps.
"""
