"""The numbers of figures: a value read from a cell's text (a symbol, the u flag, thousands separators, a per cent
sign) or taken as given, its decimal places, why a number is not a figure, and each number as its file wrote it.

Either way the figures come out typed under their own names (``value``, ``numerator``, ``denominator`` as numbers),
each beside its text as written (``value_text`` ...), which is what a problem shows of it."""

from __future__ import annotations

import polars as pl

from collectors.checks.checked import found_on
from indicators.symbols import NO_FIGURE

#: A number written with thousands separators (1,234 or 12,345.6).
_THOUSANDS = r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$"


def parse_values(df: pl.DataFrame) -> pl.DataFrame:
    """The typed numbers of a file's value, numerator and denominator cells (their text kept as ``value_text`` ...),
    with any symbol, the u flag, the code the value gives (``value_code``), the places it is given to, and why a
    number is not a figure (NaN, infinite, negative zero)."""
    typed = _numbers_given(df) if all(df.schema[c].is_numeric() for c in NUMBERS) else _numbers_read(df)
    return typed.rename(_TYPED_NAMES)


def _numbers_read(df: pl.DataFrame) -> pl.DataFrame:
    """The numbers of cells given as text, each read from it."""
    # Nearly every value is a plain number: cast those directly and keep the string work
    # (symbols, the u flag, thousands separators, %) for the few rows that need it.
    plain = df.with_columns(pl.col("value").cast(pl.Float64, strict=False).alias("_plain"))
    needs_work = pl.col("value").is_not_null() & pl.col("_plain").is_null()
    easy = plain.filter(~needs_work).with_columns(
        pl.lit(None, pl.String).alias("symbol"),
        pl.lit(None, pl.String).alias("flag"),
        pl.col("value").alias("_number"),
        pl.col("_plain").alias("value_num"),
    )
    text = pl.col("value")
    # Excel's validation compares text ignoring case, so "X" passes the template: take it as "x".
    symbol = pl.when(text.str.to_lowercase().is_in(list(NO_FIGURE))).then(text.str.to_lowercase()).otherwise(None)
    flagged = text.str.contains(r"^[-+0-9.,%\s]+\s*[uU]$")
    number = text.str.replace(r"\s*[uU]$", "").str.strip_chars().str.strip_suffix("%")
    number = pl.when(number.str.contains(_THOUSANDS)).then(number.str.replace_all(",", "")).otherwise(number)
    hard = plain.filter(needs_work).with_columns(
        symbol.alias("symbol"),
        pl.when(flagged).then(pl.lit("u")).otherwise(None).alias("flag"),
        pl.when(symbol.is_null()).then(number).otherwise(None).alias("_number"),
    )
    hard = hard.with_columns(pl.col("_number").cast(pl.Float64, strict=False).alias("value_num")).select(easy.columns)
    out = pl.concat([easy, hard]).drop("_plain")
    dot = pl.col("_number").str.find(".", literal=True)
    out = out.with_columns(
        pl.when(dot.is_null())
        .then(0)
        .otherwise(pl.col("_number").str.len_chars().cast(pl.Int64) - dot.cast(pl.Int64) - 1)
        .alias("value_dp"),
        *(
            pl.col(c).str.replace_all(",", "").cast(pl.Float64, strict=False).alias(f"{c}_num")
            for c in ("numerator", "denominator")
        ),
    )
    # NaN, infinity and negative zero are not figures: say why, and leave them null so nothing stores them.
    out = out.with_columns(_not_a_figure(pl.col(f"{c}_num"), pl.col(c)).alias(f"{c}_why") for c in NUMBERS)
    return out.with_columns(
        pl.when(pl.col(f"{c}_why").is_null()).then(pl.col(f"{c}_num")).otherwise(None).alias(f"{c}_num")
        for c in NUMBERS
    )


#: The cells that hold numbers.
NUMBERS = ("value", "numerator", "denominator")
#: The names of a figure's numbers once typed: each number under its own name, its text as written beside it.
_TYPED_NAMES = {
    **{c: f"{c}_text" for c in NUMBERS},
    **{f"{c}_num": c for c in NUMBERS},
    "_number": "value_code",
}
#: The most decimal places a number given as a number is taken to have (a float's are about 15 significant digits).
_MAX_DP = 12


def _numbers_given(df: pl.DataFrame) -> pl.DataFrame:
    """The cells of figures given as numbers (derived by the service, or a publisher's), taken as they are: a
    withheld value by the symbol (and flag) given beside it, nothing to parse; only NaN, infinity and negative zero
    are refused as in a file's text."""
    out = df.with_columns(
        *(pl.lit(None, pl.String).alias(c) for c in ("symbol", "flag") if c not in df.columns),
        *(pl.col(c).cast(pl.Float64).alias(f"{c}_num") for c in NUMBERS),
    )
    value = pl.col("value_num")
    # The places the value is given to, as its shortest text would show them (at most _MAX_DP).
    places = [pl.when((value - value.round(k)).abs() <= 1e-12 * value.abs().clip(1.0)).then(k) for k in range(_MAX_DP)]
    out = out.with_columns(
        pl.min_horizontal(*places).fill_null(_MAX_DP).cast(pl.Int64).alias("value_dp"),
        # The number as written (a code list's code, for a judgement); where it is no figure (NaN, infinite), that
        # is its type error.
        as_text(pl.col("value_num")).alias("_number"),
    )
    out = out.with_columns(_not_a_figure(pl.col(f"{c}_num"), pl.col(c)).alias(f"{c}_why") for c in NUMBERS)
    out = out.with_columns(
        pl.when(pl.col(f"{c}_why").is_null()).then(pl.col(f"{c}_num")).otherwise(None).alias(f"{c}_num")
        for c in NUMBERS
    )
    # The report names a cell by its text, as a file's own would be.
    return out.with_columns(as_text(pl.col(c)) for c in NUMBERS)


def as_text(number: pl.Expr) -> pl.Expr:
    """A number as a file would write it: a whole number without a decimal point (12, not 12.0)."""
    whole = (
        number.is_finite() & (number == number.floor()) & (number.abs() < 1e15) & ((number != 0) | (1.0 / number > 0))
    )
    return pl.when(whole).then(number.cast(pl.Int64).cast(pl.String)).otherwise(number.cast(pl.String))


def _not_a_figure(number: pl.Expr, text: pl.Expr) -> pl.Expr:
    """Why a parsed number is not a figure (NaN, infinite, negative zero), else null."""
    return (
        pl.when(number.is_nan())
        .then(
            pl.format(
                "{} is NaN (not a number), which is not a figure; write the number, or leave the cell empty", text
            )
        )
        .when(number.is_infinite())
        .then(pl.format("{} is infinite (or too large to store), which is not a figure; write a finite number", text))
        .when((number == 0) & ((1.0 / number) < 0))
        .then(pl.format("{} is negative zero, which is not a figure; write 0", text))
        .otherwise(None)
    )


def type_errors(figures: pl.DataFrame) -> pl.DataFrame:
    """A problem on each number that is not a figure: a value that is neither a number nor a symbol, a numerator or
    denominator that is no number, NaN, infinity and negative zero."""
    frames = [
        found_on(
            figures,
            pl.col("value_code").is_not_null() & pl.col("value").is_null(),
            "value",
            "type-error",
            pl.coalesce(
                pl.col("value_why"),
                pl.format(
                    "{} is not a number (nor one of the symbols {})", pl.col("value_text"), pl.lit(" ".join(NO_FIGURE))
                ),
            ),
        ),
    ]
    for c in ("numerator", "denominator"):
        frames.append(
            found_on(
                figures,
                pl.col(f"{c}_text").is_not_null() & pl.col(c).is_null(),
                c,
                "type-error",
                pl.coalesce(pl.col(f"{c}_why"), pl.format("{} is not a number", pl.col(f"{c}_text"))),
            )
        )
    return pl.concat(frames)
