"""Teaching the bundled model CML: a training set, a LoRA trainer, a GGUF export.

``data`` and ``requests`` need only llama-cpp-python (for the exact tokens the
engine will see); ``lora`` needs the optional ``train`` extra (PyTorch,
transformers, peft).
"""
