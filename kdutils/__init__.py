"""kdutils: the small library behind the knowledge-distillation book."""

__version__ = "0.1.0"
