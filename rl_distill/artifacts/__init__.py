"""Students outside SB3: the pickle-free .safetensors artifact, and ONNX / TorchScript export."""
