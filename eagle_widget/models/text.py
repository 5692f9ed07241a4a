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


def prompt_token_offsets(
    tokenizer, text: str, add_special: bool, prompt: str
) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of `text` (a rendered template holding `prompt`) from the prompt's first token
    to its end, and the character offsets, in the prompt, of the tokens that overlap it.

    Read from the whole text tokenized with offsets, since a prompt tokenized alone can
    differ at its start (a sentencepiece prefix space). The prompt is the text's last
    occurrence of it: every template writes the user's turn after its own text."""
    try:
        encoded = tokenizer(text, add_special_tokens=add_special, return_offsets_mapping=True)
    except (NotImplementedError, TypeError, ValueError) as error:
        raise ValueError(
            f"prompt spans need a tokenizer that gives character offsets (a fast one): "
            f"{type(tokenizer).__name__} does not ({error})"
        ) from None
    at = text.rfind(prompt)
    end = at + len(prompt)
    inside = [(i, (a - at, b - at)) for i, (a, b) in enumerate(encoded["offset_mapping"])
              if a < end and at < b and b > a]  # fmt: skip
    if at < 0 or not inside:
        raise ValueError(f"the chat template does not hold the prompt {prompt!r} as text")
    return list(encoded["input_ids"])[inside[0][0] :], [o for _, o in inside]


def span_token_indices(offsets: list[tuple[int, int]], spans) -> list[list[int]]:
    """Per (start, stop) character range, the indices (from the prompt's first token) of the
    tokens whose offsets overlap it."""
    return [
        [i for i, (a, b) in enumerate(offsets) if a < stop and start < b] for start, stop in spans
    ]
