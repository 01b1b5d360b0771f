"""Coordinate metrics on normalized [0, 1] coordinates: box IoU (best match, single, sequence, XML), points."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rethinker.eval.suites.megabench.metrics.convert import (
    aligned_mean,
    as_boxes,
    is_number,
    literal,
    xml_boxes,
    xml_point,
)

Box = Sequence[float]


def box_iou(first: Box, second: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when the union has no area."""
    width = max(0.0, min(first[2], second[2]) - max(first[0], second[0]))
    height = max(0.0, min(first[3], second[3]) - max(first[1], second[1]))
    intersection = width * height
    union = (first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (second[3] - second[1])
    union -= intersection
    return intersection / union if union > 0 else 0.0


def best_match_ious(predicted: Sequence[Box], gold: Sequence[Box]) -> list[float]:
    """For each predicted box, its best IoU with any gold box (0 when there is no gold box)."""
    return [max((box_iou(box, target) for target in gold), default=0.0) for box in predicted]


def mean_best_iou(predicted: Sequence[Box], gold: Sequence[Box]) -> float:
    """Mean over predicted boxes of their best IoU with a gold box; 0 when nothing is predicted."""
    scores = best_match_ious(predicted, gold)
    return sum(scores) / len(scores) if scores else 0.0


def nbbox_iou_tuple(response: Any, gold: Any) -> float:
    """`mean_best_iou` of the predicted boxes against the gold boxes (lists of 4-number lists, or one box)."""
    return mean_best_iou(as_boxes(response), as_boxes(gold))


def nbbox_iou_single(response: Any, gold: Any) -> float:
    """IoU of one predicted box with the one gold box; a response that is not one box scores 0."""
    predicted, expected = as_boxes(response), as_boxes(gold)
    if len(predicted) != 1 or len(expected) != 1:
        return 0.0
    return box_iou(predicted[0], expected[0])


def nbbox_iou_sequence(response: Any, gold: Any) -> float:
    """Mean IoU of boxes paired by position (tracking); 0 when the two sequences differ in length."""
    return aligned_mean(as_boxes(response), as_boxes(gold), box_iou)


def xml_nbbox_iou_single(response: Any, gold: Any) -> float:
    """`mean_best_iou` of `<box>x1, y1, x2, y2</box>` boxes (a plain 4-number list also counts as a response)."""
    predicted = xml_boxes(response) or (as_boxes(response) if isinstance(response, list | tuple) else [])
    return mean_best_iou(predicted, xml_boxes(gold) or as_boxes(gold))


def _normalized_point(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, list | tuple):
        point = tuple(value) if len(value) == 2 and all(is_number(item) for item in value) else None
    else:
        point = xml_point(value)
    return point if point is not None and all(0 <= coordinate <= 1 for coordinate in point) else None


def xml_norm_point_distance(response: Any, gold: Any) -> float:
    """max(0, 1 - Euclidean distance) of two normalized `<point>x, y</point>` points; unreadable points score 0."""
    predicted, expected = _normalized_point(response), _normalized_point(gold)
    if predicted is None or expected is None:
        return 0.0
    return max(0.0, 1 - math.dist(predicted, expected))


def xml_norm_point_in_bbox(response: Any, context: Mapping[str, Any]) -> float:
    """1 when the `<point>x, y</point>` lies inside (edges included) one of the query's `bounding_boxes`.

    The boxes come from the query's eval context (each a 4-number list or its text), not from the gold answer.
    """
    point = xml_point(response) if not isinstance(response, list | tuple) else tuple(response)
    boxes = [box for text in context.get("bounding_boxes", []) for box in as_boxes(text)[:1]]
    if point is None or len(point) != 2 or not all(is_number(coordinate) for coordinate in point):
        return 0.0
    x, y = point
    return float(any(box[0] <= x <= box[2] and box[1] <= y <= box[3] for box in boxes))


KEYPOINT_SHARPNESS = 10.0


def as_points(value: Any) -> list[tuple[float, float]] | None:
    """A list of (x, y) points given as text or value; None when any entry is not two finite numbers."""
    parsed = literal(value) if isinstance(value, str) else value
    if not isinstance(parsed, list | tuple):
        return None
    points = [tuple(point) for point in parsed if isinstance(point, list | tuple)]
    if len(points) != len(parsed) or not all(len(point) == 2 and all(map(is_number, point)) for point in points):
        return None
    return points


def sequence_coords_similarity(response: Any, gold: Any) -> float:
    """Mean over keypoints paired by position of exp(-10 * distance / sqrt(2)); 0 when the counts differ."""
    predicted, expected = as_points(response), as_points(gold)
    if predicted is None or expected is None or len(predicted) != len(expected) or not expected:
        return 0.0
    distances = [math.dist(point, target) / math.sqrt(2) for point, target in zip(predicted, expected, strict=True)]
    return sum(math.exp(-KEYPOINT_SHARPNESS * distance) for distance in distances) / len(distances)
