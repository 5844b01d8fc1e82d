"""The admin's map foundation: Leaflet and Geoman from our own static files, the tile settings and the CSP."""

from __future__ import annotations

import re
from typing import cast

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.test import override_settings

from config.env import map_tile_origins


def _render(source: str) -> str:
    return Template("{% load core_maps %}" + source).render(Context({}))


@pytest.mark.parametrize("draw", [False, True])
def test_every_file_the_map_tag_loads_is_one_of_our_static_files(draw):
    html = _render("{% map_assets draw=True %}" if draw else "{% map_assets %}")
    paths = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert ("vendor/leaflet-geoman/leaflet-geoman.min.js" in paths) is draw
    assert "vendor/leaflet/leaflet.js" in paths and "core/map.js" in paths
    for path in paths:
        assert finders.find(path), f"{path} is not found by staticfiles (run make install)"
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', html)).replace("/static/", "")  # no CDN


def test_the_tile_settings_reach_the_page_as_json():
    with override_settings(MAP_TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png", MAP_TILE_ATTRIBUTION="© Ex"):
        html = _render("{% map_assets %}")
    assert '<script id="fw-map-config" type="application/json">' in html
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in html


def test_the_tile_server_is_allowed_by_the_csp_and_only_it():
    img_src = cast(list[str], settings.SECURE_CSP["img-src"])
    assert "https://tile.openstreetmap.org" in img_src
    assert map_tile_origins("https://{s}.tile.example.org/{z}/{x}/{y}.png") == ["https://*.tile.example.org"]
    assert map_tile_origins("http://127.0.0.1:8080/t/{z}/{x}/{y}.png") == ["http://127.0.0.1:8080"]
    assert map_tile_origins("") == []


@pytest.mark.parametrize("url", ["ftp://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/tile.png",
                                 "tiles.example.org/{z}/{x}/{y}"])
def test_a_tile_url_that_cannot_work_refuses_start_up(url):
    with pytest.raises(ImproperlyConfigured, match="MAP_TILE_URL"):
        map_tile_origins(url)


def test_missing_browser_libraries_are_a_system_check_warning(tmp_path):
    with override_settings(VENDOR_STATIC={"vendor/leaflet": tmp_path / "nowhere"}):
        messages = [m for m in run_checks() if m.id == "core.W010"]
    assert len(messages) == 1 and "make install" in (messages[0].hint or "")
    assert not [m for m in run_checks() if m.id == "core.W010"]
