"""The unified text + audio vocabulary, token layouts, interleaved documents, packing and LM data.

Light pieces are imported eagerly; the data module (Lightning, torch) only on first use.
"""

from audiolm.tokens.vocab import PUA_BASE, SPECIAL_TOKENS, Vocabulary, codes_to_pua, pua_to_codes

_LAZY = {
    "UnifiedTokenizer": "audiolm.tokens.tokenizer",
    "train_bpe": "audiolm.tokens.tokenizer",
    "make_layout": "audiolm.tokens.layout",
    "Layout": "audiolm.tokens.layout",
    "build_documents": "audiolm.tokens.documents",
    "build_formats": "audiolm.tokens.documents",
    "text_document": "audiolm.tokens.documents",
    "text_span": "audiolm.tokens.documents",
    "audio_span": "audiolm.tokens.documents",
    "TokenDocument": "audiolm.tokens.documents",
    "Packer": "audiolm.tokens.packing",
    "pack_documents": "audiolm.tokens.packing",
    "mix_documents": "audiolm.tokens.packing",
    "TokenMixer": "audiolm.tokens.packing",
    "DataConfig": "audiolm.tokens.datamodule",
    "LMDataModule": "audiolm.tokens.datamodule",
}

__all__ = ["PUA_BASE", "SPECIAL_TOKENS", "Vocabulary", "codes_to_pua", "pua_to_codes", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audiolm.tokens' has no attribute {name!r}")
