"""Bills of materials (CycloneDX 1.6) on SQLite and PostgreSQL: every document passes
the CycloneDX JSON schema by the library's own validator, and says what the registry
holds: the model by name and semver with its owners, metrics by split and slice and
caveats; its files with the SHA-256 of the stored bytes; its datasets, Python and
framework packages, lockfile, image, code commit and parents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelbook import DataRef, IntegrityError, InvalidInput, NotFound, Registry
from modelbook import bom as bom_rules

LOCK = "5" * 64
COMMIT = "c" * 40


def schema_errors(doc: dict[str, Any]) -> list[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonValidator

    errors = JsonValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc), all_errors=True)
    return [str(e) for e in errors or ()]


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    out = []
    for name, data in (("model.joblib", b"weights " * 50), ("config.json", b'{"depth": 6}')):
        path = tmp_path / name
        path.write_bytes(data)
        out.append(path)
    return out


def register(registry: Registry, files: list[Path], **kw: Any) -> Any:
    kw.setdefault("capture_environment", False)
    return registry.register(
        "churn", files, owners=["risk-team@example.com", "ana"], task="binary-classification", **kw
    )


def test_bom_passes_the_schema_and_says_what_the_registry_holds(
    registry: Registry, files: list[Path]
) -> None:
    register(registry, files, data=["ds_2025_09_01"])
    v = register(
        registry,
        files,
        metrics={"auc@test": 0.91, "auc@test{region=eu}": 0.89, "loss": 0.2},
        data=[
            DataRef(snapshot="ds_2025_10_01", sha256="d" * 64, window="2025-09", role="train"),
            DataRef(snapshot="ds_2025_10_01", role="eval"),
            DataRef(snapshot="holdout"),
        ],
        code={"repo": "git@example.com:risk/churn.git", "commit": COMMIT, "dirty": False},
        parents=["models:/churn/1"],
        environment={
            "python": "3.11.9",
            "platform": "linux-x86_64",
            "frameworks": {"scikit-learn": "1.5.2", "numpy": "2.1.0"},
            "lockfile": {"path": "uv.lock", "sha256": LOCK},
            "image_digest": "sha256:" + "e" * 64,
        },
        caveats=['Not for "minors" <18>', "Drifts after 30 days"],
    )
    doc = json.loads(registry.bom(f"models:/churn/{v.number}"))
    assert schema_errors(doc) == []
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    model = doc["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert (model["name"], model["version"]) == ("churn", v.semver)
    assert model["bom-ref"] == model["purl"] == f"pkg:generic/modelbook/churn@{v.semver}"
    assert sorted(a["name"] for a in model["authors"]) == ["ana", "risk-team@example.com"]
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "binary-classification"
    assert card["modelParameters"]["datasets"] == [
        {"ref": "dataset:ds_2025_10_01"},
        {"ref": "dataset:holdout"},
    ]
    metrics = {
        (m["type"], m.get("slice")): float(m["value"])
        for m in card["quantitativeAnalysis"]["performanceMetrics"]
    }
    assert metrics == {
        ("auc", "split=test"): 0.91,
        ("auc", "split=test,region=eu"): 0.89,
        ("loss", None): 0.2,
    }
    assert card["considerations"]["technicalLimitations"] == list(v.caveats)
    assert model["externalReferences"] == [
        {"type": "vcs", "url": "ssh://git@example.com/risk/churn.git", "comment": COMMIT}
    ]
    assert model["pedigree"]["commits"][0]["uid"] == COMMIT
    assert model["pedigree"]["ancestors"] == [
        {
            "bom-ref": "models:/churn/1",
            "name": "churn",
            "type": "machine-learning-model",
            "version": registry.get_version("churn/1").semver,
        }
    ]
    by_ref = {c["bom-ref"]: c for c in doc["components"]}
    # Artifacts: the hashes of the stored bytes, read back through the registry.
    for artifact in v.artifacts:
        stored = registry.read_artifact(v.uri, artifact.path)
        component = by_ref[f"pkg:generic/modelbook/churn@{v.semver}#{artifact.path}"]
        assert component["type"] == "file"
        assert component["hashes"] == [
            {"alg": "SHA-256", "content": hashlib.sha256(stored).hexdigest()}
        ]
    data = by_ref["dataset:ds_2025_10_01"]
    assert data["type"] == "data" and data["hashes"][0]["content"] == "d" * 64
    assert data["data"] == [{"type": "dataset", "name": "ds_2025_10_01"}]
    holdout = by_ref["dataset:holdout"]
    assert "hashes" not in holdout
    assert all(p["name"] != "modelbook:sha256" for p in holdout.get("properties", []))
    assert by_ref["pkg:pypi/scikit-learn@1.5.2"]["type"] == "library"
    assert by_ref["pkg:pypi/numpy@2.1.0"]["purl"] == "pkg:pypi/numpy@2.1.0"
    assert by_ref["python@3.11.9"]["type"] == "platform"
    assert by_ref[f"lockfile:{LOCK}"]["hashes"][0]["content"] == LOCK
    assert by_ref["image:sha256:" + "e" * 64]["type"] == "container"
    depends = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert set(depends[model["bom-ref"]]) == set(by_ref)
    assert doc["metadata"]["tools"]["components"][0]["name"] == "modelbook"


def test_a_bare_version_and_hostile_text_still_pass_the_schema(
    registry: Registry, files: list[Path]
) -> None:
    register(
        registry,
        files[:1],
        data=['we"ird\nsnap<>\x1b[2J', "\u202eevil"],
        code={"repo": "not a url at all %zz", "commit": "d" * 40},
        caveats=["line\nbreak"],
    )
    doc = json.loads(registry.bom("churn/latest"))
    assert schema_errors(doc) == []
    names = {c["name"] for c in doc["components"] if c["type"] == "data"}
    assert names == {'we"ird\nsnap<>\x1b[2J', "\u202eevil"}
    bare = registry.register("bare", files[:1], owners="o", capture_environment=False)
    assert schema_errors(json.loads(registry.bom(bare.uri))) == []


def test_bom_is_ascii_json(registry: Registry, files: list[Path]) -> None:
    register(registry, files[:1], data=["caf\u00e9 \u2603"])
    text = registry.bom("models:/churn/1")
    assert text.isascii() and "caf\\u00e9 \\u2603" in text


def test_bom_bad_input(registry: Registry, files: list[Path]) -> None:
    register(registry, files[:1])
    with pytest.raises(InvalidInput, match="cyclonedx"):
        registry.bom("models:/churn/1", format="spdx")
    with pytest.raises(NotFound):
        registry.bom("models:/churn/2")
    with pytest.raises(InvalidInput):
        registry.bom("models:/churn")


def test_a_document_that_fails_the_schema_is_refused() -> None:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "model"}]}
    with pytest.raises(IntegrityError, match=r"does not pass the CycloneDX 1\.6 schema"):
        bom_rules.validate(doc, "models:/m/1")


@pytest.mark.parametrize(
    ("repo", "url"),
    [
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("/srv/git/fraud.git", None),
        ("--upload-pack=touch /tmp/p", None),
        ("https://git.example.com/risk/fraud.git", "https://git.example.com/risk/fraud.git"),
        ("git@example.com:risk/fraud.git", "ssh://git@example.com/risk/fraud.git"),
        ("git://example.com/fraud.git", "git://example.com/fraud.git"),
    ],
)
def test_only_a_fetchable_repository_becomes_a_url(
    registry: Registry, files: list[Path], repo: str, url: str | None
) -> None:
    register(registry, files[:1], code={"repo": repo, "commit": "c" * 40})
    doc = json.loads(registry.bom("churn/latest"))
    assert schema_errors(doc) == []
    model = doc["metadata"]["component"]
    urls = [r["url"] for r in model.get("externalReferences", [])]
    urls += [c["url"] for c in model.get("pedigree", {}).get("commits", []) if "url" in c]
    assert urls == ([url, url] if url else [])
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["modelbook:code.repo"] == repo
