"""seqocr: attention sequence-to-sequence OCR for multi-view street-name signs."""

__version__ = "0.1.0"
