"""What RFM means here: the three figures, how they are scored, and the score-to-segment grid.

Everything the API documents about RFM is generated from this module, so the docs and the SQL
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from spendlens.models import RFM_SEGMENTS

SCORES = (1, 2, 3, 4, 5)


class Segment(str, Enum):
    """Named RFM segment (slug); display order is best to worst."""

    champions = "champions"
    loyal = "loyal"
    potential_loyalist = "potential_loyalist"
    new = "new"
    promising = "promising"
    need_attention = "need_attention"
    at_risk = "at_risk"
    cant_lose_them = "cant_lose_them"
    hibernating = "hibernating"
    lost = "lost"


assert tuple(s.value for s in Segment) == RFM_SEGMENTS, "the enum and the table's check disagree"


@dataclass(frozen=True)
class SegmentInfo:
    label: str
    description: str


SEGMENT_INFO: dict[Segment, SegmentInfo] = {
    Segment.champions: SegmentInfo("Champions", "Bought recently, buy often and spend the most"),
    Segment.loyal: SegmentInfo("Loyal", "Buy often and spend well; not always the most recent"),
    Segment.potential_loyalist: SegmentInfo(
        "Potential Loyalist", "Recent customers with average frequency and spend"
    ),
    Segment.new: SegmentInfo("New", "Bought very recently, but rarely and little so far"),
    Segment.promising: SegmentInfo("Promising", "Recent buyers who have not spent much yet"),
    Segment.need_attention: SegmentInfo(
        "Need Attention", "Average recency, frequency and spend: could go either way"
    ),
    Segment.at_risk: SegmentInfo("At Risk", "Bought often and spent well, but not for a long time"),
    Segment.cant_lose_them: SegmentInfo(
        "Can't Lose Them", "Were among the best customers and have not come back for long"
    ),
    Segment.hibernating: SegmentInfo(
        "Hibernating", "Last purchase a while ago, few purchases, low spend"
    ),
    Segment.lost: SegmentInfo("Lost", "Lowest recency, frequency and spend"),
}

_C, _L, _P = Segment.champions, Segment.loyal, Segment.potential_loyalist
_N, _PR, _NA = Segment.new, Segment.promising, Segment.need_attention
_AR, _CL = Segment.at_risk, Segment.cant_lose_them
_H, _LO = Segment.hibernating, Segment.lost

# SEGMENT_GRID[r][fm]: R score (rows) against the FM score (columns), both 1..5.
SEGMENT_GRID: dict[int, dict[int, Segment]] = {
    5: dict(zip(SCORES, (_N, _P, _P, _C, _C))),
    4: dict(zip(SCORES, (_PR, _P, _P, _L, _L))),
    3: dict(zip(SCORES, (_H, _H, _NA, _L, _L))),
    2: dict(zip(SCORES, (_H, _H, _AR, _AR, _CL))),
    1: dict(zip(SCORES, (_LO, _LO, _AR, _AR, _CL))),
}
assert {s for row in SEGMENT_GRID.values() for s in row.values()} == set(Segment)


def fm_score(f_score: int, m_score: int) -> int:
    """The mean of F and M rounded half up: (F + M + 1) div 2."""
    return (f_score + m_score + 1) // 2


def segment_of(r_score: int, f_score: int, m_score: int) -> Segment:
    return SEGMENT_GRID[r_score][fm_score(f_score, m_score)]


def grid_rows() -> list[tuple[int, int, str]]:
    """(r_score, fm_score, segment slug) for every cell, for SQL."""
    return [(r, fm, SEGMENT_GRID[r][fm].value) for r in SCORES for fm in SCORES]


def _grid_markdown() -> str:
    header = "| R \\ FM | " + " | ".join(str(fm) for fm in SCORES) + " |"
    rule = "|---|" + "---|" * len(SCORES)
    rows = [
        f"| **{r}** | "
        + " | ".join(SEGMENT_INFO[SEGMENT_GRID[r][fm]].label for fm in SCORES)
        + " |"
        for r in sorted(SCORES, reverse=True)
    ]
    return "\n".join([header, rule, *rows])


def _segments_markdown() -> str:
    rows = [
        f"| `{s.value}` | {SEGMENT_INFO[s].label} | {SEGMENT_INFO[s].description} |"
        for s in Segment
    ]
    return "\n".join(["| slug | name | who |", "|---|---|---|", *rows])


DEFINITIONS_DOC = f"""
**RFM as of a day** (a UTC calendar day, like every date of the API), from the organisation's
transactions in its base currency up to the end of that day:

- **recency** = days from the customer's last purchase (UTC day) to `as_of` (0 = bought that day);
- **frequency** = number of purchases (kind `purchase`; refunds are not purchases);
- **monetary** = net spend: purchases plus refunds (refunds are negative), as in `/metrics`.

Customers without a purchase up to `as_of` have no RFM.

**Scores 1–5.** By default by quantile within the organisation: score = ⌈5 × k / n⌉, where n is the
number of customers scored and k the number whose value is *at most* this customer's (for recency:
*at least* as many days, so the most recent get 5). Equal values always get equal scores.
An admin can instead set 4 cut points per dimension (`PUT /api/v1/segments/settings`):
frequency and monetary score 1 up to and including the first cut point, 2 up to the second, …,
5 above the fourth; recency scores 5 up to and including the first (days), 4 up to the second, …,
1 above the fourth.

**Segment** from the R score and the FM score = (F + M) / 2 rounded half up:

{_grid_markdown()}

{_segments_markdown()}
""".strip()
