"""A code repository or data snapshot URL that carries a secret: registration refuses
it, naming the field, with nothing written; a version stored with one before that rule
is shown with the secret hidden in every output (bom, report, lineage, impact, show,
diff), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import InvalidInput, Registry
from modelbook.capture import code as captured_code
from modelbook.lineage_urls import shown_url

from .test_cli_lineage import in_process

SECRET = "S3CRETtok9"
COMMIT = "a" * 40
REPO = f"https://user:{SECRET}@github.com/a/b.git"
SNAPSHOT = f"s3://AKIA:{SECRET}@bucket/data/2025"


@pytest.mark.parametrize(
    "repo",
    [
        REPO,
        f"https://{SECRET}@github.com/a/b.git",
        f"ssh://git:{SECRET}@host/a/b.git",
        f"https://github.com/a/b.git?token={SECRET}",
        f"git+https://{SECRET}@github.com/a/b.git",
        f"git+http://{SECRET}@github.com/a/b.git",
        f" https://{SECRET}@github.com/a/b.git",
        f"https://github.com/a/b.git?private_token={SECRET}",
        f"https://host/a/b.git?X-Amz-Signature={SECRET}",
    ],
)
def test_a_repository_with_a_secret_is_refused(
    registry: Registry, model_file: Path, repo: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        registry.register(
            "m",
            [model_file],
            owners="o",
            code={"repo": repo, "commit": COMMIT},
            capture_environment=False,
        )
    message = str(info.value)
    assert "code.repo" in message and "secret" in message and SECRET not in message
    assert registry.models().items == []


def test_a_data_snapshot_with_a_secret_is_refused(registry: Registry, model_file: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        registry.register("m", [model_file], owners="o", data=[SNAPSHOT], capture_environment=False)
    assert "data snapshot" in str(info.value) and SECRET not in str(info.value)
    assert registry.models().items == []


@pytest.mark.parametrize(
    "repo",
    [
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "https://github.com/org/repo.git",
    ],
)
def test_a_repository_without_a_secret_is_kept(
    registry: Registry, model_file: Path, repo: str
) -> None:
    v = registry.register(
        "m",
        [model_file],
        owners="o",
        code={"repo": repo, "commit": COMMIT},
        capture_environment=False,
    )
    assert v.lineage.code.repo == repo


@pytest.mark.parametrize(
    "snapshot",
    [
        "s3://bucket/data?partition_key=2024",
        "https://host/x?author=bob&codec=parquet&sort_key=a",
        "s3://bucket/d?session_date=2025-01-01&version_code=3&region=eu",
    ],
)
def test_a_parameter_whose_name_holds_a_secrets_part_is_kept_and_shown(
    registry: Registry, model_file: Path, snapshot: str
) -> None:
    """Only a parameter named as a secret is one: partition_key, author or codec were
    refused, with no way round, by a rule that matched any name holding key or auth."""
    v = registry.register("m", [model_file], owners="o", data=[snapshot], capture_environment=False)
    assert v.lineage.data[0].snapshot == snapshot
    assert shown_url(snapshot) == snapshot


def test_a_captured_remote_is_recorded_without_its_credentials(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", REPO], check=True)
    assert captured_code(tmp_path).repo == "https://github.com/a/b.git"


def _stored_with_secrets(registry: Registry, model_file: Path) -> None:
    """Two versions of m (2 a child of 1), then their repository and snapshot edited in
    SQL to URLs with a secret, as a version registered before the rule holds them."""
    for parents in ([], ["models:/m/1"]):
        registry.register(
            "m",
            [model_file],
            owners="o",
            code={"repo": "https://github.com/a/b.git", "commit": COMMIT},
            data=["s3://bucket/data/2025"],
            parents=parents,
            capture_environment=False,
        )
    with registry.db.engine.begin() as conn:
        if registry.db.dialect == "postgresql":
            conn.execute(sa.text("DROP TRIGGER IF EXISTS versions_frozen ON versions"))
        else:
            conn.execute(sa.text("DROP TRIGGER versions_frozen"))
        for number, doc in conn.execute(sa.text("SELECT number, doc FROM versions")).all():
            record = json.loads(doc) if isinstance(doc, str) else doc
            record["lineage"]["code"]["repo"] = REPO
            record["lineage"]["data"][0]["snapshot"] = SNAPSHOT
            conn.execute(
                sa.text("UPDATE versions SET doc = :doc WHERE number = :n"),
                {"doc": json.dumps(record), "n": number},
            )
        conn.execute(
            sa.text("UPDATE lineage SET value = :v WHERE kind = 'code' AND key = 'repo'"),
            {"v": REPO},
        )
        conn.execute(
            sa.text("UPDATE lineage SET value = :v WHERE kind = 'data' AND key = 'snapshot'"),
            {"v": SNAPSHOT},
        )


def test_a_stored_secret_is_hidden_in_every_output(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stored_with_secrets(registry, model_file)
    cli = in_process(db_uri, blob_dir, capsys)
    html = tmp_path / "report.html"
    commands = [
        ("bom", "models:/m/2"),
        ("report", "models:/m/2"),
        ("report", "models:/m/2", "--format", "html", "-o", str(html)),
        ("lineage", "models:/m/2"),
        ("lineage", "models:/m/2", "--format", "json"),
        ("lineage", "models:/m/2", "--format", "mermaid"),
        ("lineage", "models:/m/2", "--format", "dot"),
        ("impact", f"dataset:{SNAPSHOT}"),
        ("impact", f"dataset:{SNAPSHOT}", "--json"),
        ("impact", "dataset:s3://AKIA:S3CRETtok8@bucket/data/2025", "--json"),
        ("show", "models:/m/2"),
        ("show", "models:/m/2", "--json"),
        ("versions", "m", "--json"),
        ("diff", "models:/m/1", "models:/m/2", "--json"),
    ]
    for args in commands:
        run = cli(*args)
        # A snapshot nothing names: exit 3, with the stored one suggested.
        assert run.code == (3 if "S3CRETtok8" in args[1] else 0), (args, run.err)
        printed = run.out + run.err + (html.read_text() if "html" in args else "")
        assert SECRET not in printed, args
        # Mermaid writes '*' as '#42;', DOT as '&#42;'.
        hidden = ("***@", "#42;#42;#42;@", "&#42;&#42;&#42;@")
        assert any(h in printed for h in hidden) or args[0] == "diff", args
    bom = json.loads(cli("bom", "models:/m/2").out)
    component = bom["metadata"]["component"]
    shown = "https://***@github.com/a/b.git"
    assert component["externalReferences"][0]["url"] == shown
    assert component["pedigree"]["commits"][0]["url"] == shown
    assert {"name": "modelbook:code.repo", "value": shown} in component["properties"]
    report = cli("report", "models:/m/2").out
    assert f"git clone -- '{shown}' src" in report
    # Asked by the value it stores, impact still finds the versions.
    found = json.loads(cli("impact", f"dataset:{SNAPSHOT}", "--json").out)
    assert [v["uri"] for v in found["versions"]] == ["models:/m/1", "models:/m/2"]
    assert found["ref"] == "dataset:s3://***@bucket/data/2025"
    # Python callers read the version as it is stored.
    assert registry.get_version("models:/m/2").lineage.code.repo == REPO


def test_the_rule_is_documented() -> None:
    docs = Path(__file__).parents[1] / "docs"
    text = (docs / "lineage.md").read_text()
    assert "carries a secret" in text and "ssh://git@" in text
