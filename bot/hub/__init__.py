"""The hub (Civitai) API: a tolerant client and models of its JSON."""

from bot.hub.client import HubClient, HubHealth, ModelQuery
from bot.hub.errors import (
    HubBadResponse,
    HubError,
    HubNotFound,
    HubRateLimited,
    HubRequestRejected,
    HubUnavailable,
)
from bot.hub.models import Article, Creator, Image, Model, ModelFile, ModelVersion, Page, Tag

__all__ = [
    "Article", "Creator", "HubBadResponse", "HubClient", "HubError", "HubHealth", "HubNotFound",
    "HubRateLimited", "HubRequestRejected", "HubUnavailable", "Image", "Model", "ModelFile",
    "ModelQuery", "ModelVersion", "Page", "Tag",
]
