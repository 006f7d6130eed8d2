from dataclasses import dataclass, field

import pytest

from audiolm.config import ConfigError, config_from_dict, load_config, to_dict


@dataclass
class Inner:
    width: int = 4
    name: str = "a"


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    lr: float = 1e-3


def test_yaml_bases_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("inner:\n  width: 8\nlr: 0.5\n")
    (tmp_path / "delta.yaml").write_text("_base_: [base.yaml]\ninner:\n  name: b\n")
    cfg = load_config(Outer, tmp_path / "delta.yaml", ["lr=0.25"])
    assert cfg.inner.width == 8 and cfg.inner.name == "b" and cfg.lr == 0.25
    assert config_from_dict(Outer, to_dict(cfg)) == cfg


def test_unknown_key_and_wrong_type_name_the_key(tmp_path):
    (tmp_path / "typo.yaml").write_text("inner:\n  widht: 8\n")
    with pytest.raises(ConfigError, match="widht"):
        load_config(Outer, tmp_path / "typo.yaml")
    with pytest.raises(ConfigError, match="width"):
        load_config(Outer, None, ["inner.width=abc"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Outer, None, ["lr"])
