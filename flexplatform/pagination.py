"""Offset pagination shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from flexplatform.validation import Offset as Offset

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def page(model: type[BaseModel], rows: Iterable[Any], total: int, limit: int, offset: int
         ) -> Page[Any]:
    """A page of ``model`` built from ORM rows."""
    return Page[model](items=[model.model_validate(r) for r in rows],  # type: ignore[valid-type]
                       total=total, limit=limit, offset=offset)
