"""The segmentation DNN: MediaPipe's selfie-segmentation model converted to ONNX and run
by onnxruntime (CUDA provider when available, CPU otherwise). Independent of ops/."""
