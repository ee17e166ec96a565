"""Russian (the default language) translates every string a person can read."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

PROJECT = Path(__file__).resolve().parents[2]
CATALOG = PROJECT / "portal" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"


def extracted_messages(tmp_path) -> set[str]:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(template),
            ".",
        ],
        cwd=PROJECT,
        check=True,
        capture_output=True,
    )
    with template.open("rb") as handle:
        return {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(handle)
            if message.id
        }


def test_every_string_has_a_russian_translation(tmp_path):
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        (message.id if isinstance(message.id, str) else message.id[0])
        for message in catalog
        if message.id
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    missing = sorted(extracted_messages(tmp_path) - translated)
    assert missing == [], f"{len(missing)} untranslated, e.g. {missing[:10]}"


def test_russian_is_the_default_language(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Войти" in page
