"""Decode generated ids one token at a time, so that the pieces join to the answer."""

from __future__ import annotations

REPLACEMENT = "\ufffd"  # what a decoder shows for an incomplete UTF-8 byte sequence


def decode_tokens(tokenizer, ids: list[int]) -> list[str]:
    """The text each id adds to the answer: `"".join(result)` is the decoded answer.

    Each prefix is decoded and the new text taken, because tokens do not decode alone
    (SentencePiece spaces, byte-level pieces of one character). A token that ends inside a
    multi-byte character adds "" and the next one carries the whole character.
    """
    tokens: list[str] = []
    committed = ""
    for i in range(len(ids)):
        text = tokenizer.decode(
            ids[: i + 1], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        if text.endswith(REPLACEMENT) and i < len(ids) - 1:
            tokens.append("")
            continue
        if text.startswith(committed):
            tokens.append(text[len(committed) :])
            committed = text
        else:  # the decoder rewrote earlier text; keep the join exact from here on
            piece = tokenizer.decode(
                [ids[i]], skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            tokens.append(piece)
            committed += piece
    return tokens
