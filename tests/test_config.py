import pytest

from seqocr.config import Config, load_config
from seqocr.errors import ConfigError
from tests.helpers import CONFIGS


def test_shipped_configs_load():
    ref = load_config(str(CONFIGS / "reference.yaml"))
    assert (ref.model.name, ref.model.vocab_size, ref.train.lr, ref.train.betas) == ("reference", 10000, 8e-4,
                                                                                       [0.5, 0.999])
    assert load_config(str(CONFIGS / "default.yaml")).model.name == "default"
    assert load_config(str(CONFIGS / "tiny.yaml")).train.batch_size == 16


def test_overrides_are_typed():
    cfg = load_config(str(CONFIGS / "tiny.yaml"), ["train.steps=7", "train.lr=1e-3", "train.bf16=true",
                                            "model.channels=[8, 8, 8, 8]", "train.grad_clip=1"])
    assert (cfg.train.steps, cfg.train.lr, cfg.train.bf16, cfg.model.options["channels"]) == (7, 1e-3, True, [8, 8, 8, 8])
    assert isinstance(cfg.train.grad_clip, float)


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown config key 'train.stepz'"),
    ("optim.lr=3", "unknown config key 'optim.lr'"),
    ("train.steps=many", "train.steps must be int"),
    ("train.steps=1.5", "train.steps must be int"),
    ("train.bf16=3", "train.bf16 must be bool"),
    ("train.steps", "expected key=value"),
    ("train.steps=0", "train.steps must be positive"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(CONFIGS / "tiny.yaml"), [override])


@pytest.mark.parametrize("config, override, message", [
    ("tiny", "model.name=resnet", "model.name: unknown model 'resnet'; choose from default, reference"),
    ("reference", "model.max_len=38", "needs view_height=view_width=128 and max_len=64"),
    ("tiny", "model.backbone=resnet", "model.backbone: unknown backbone 'resnet'; choose from vgg, ppocrv6"),
    ("tiny", "model.trainable_stages=7", "model.trainable_stages must be at most 6"),
    ("tiny", "train.char_map_loss=0.1", "train.char_map_loss needs model.char_map: true"),
    ("reference", "train.attention_loss=0.1", "model reference has no glyph attention to train"),
    ("tiny", "model.backboen=ppocrv6", ("--set model.backboen=ppocrv6: unknown config key 'model.backboen'; model "
                                        "default has attention_dim, backbone,")),
    ("tiny", "model.channels=[8, 8]", "channels must list 4 widths"),
    ("tiny", "model.attention_dim=0", "model.attention_dim must be positive"),
    ("tiny", "model.temperature=.inf", "model.temperature must be a finite number"),
    ("tiny", "model.rows=some", "model.rows: unknown 'some'"),
    ("tiny", "model.train_views=5", "model.train_views and model.read_views must be at most model.num_views"),
    ("reference", "model.hidden_size=3", "unknown config key 'model.hidden_size'; model reference has crop, dropout,"),
])
def test_each_architecture_checks_its_own_settings(config, override, message):
    """The shared checks run when a config is read; the architecture's own (seqocr.model.check_config) when a model
    is about to be built or trained from it (issue 25: the config layer names no model)."""
    from seqocr.model import check_config

    cfg = load_config(str(CONFIGS / f"{config}.yaml"), [override])
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_an_architectures_own_keys_live_beside_its_code_and_round_trip():
    """The shared section holds what every model reads; the default model's keys are its DefaultSettings, read
    from the same flat YAML section, written back flat, defaults filled in only where the architecture reads."""
    from seqocr.model import model_values
    from seqocr.model.default import DefaultOCR, DefaultSettings

    cfg = load_config(str(CONFIGS / "default.yaml"), ["model.read_views=2"])
    settings = DefaultOCR.settings(cfg.model)
    assert isinstance(settings, DefaultSettings) and (settings.backbone, settings.read_views) == ("ppocrv6", 2)
    assert settings.channels == DefaultSettings().channels  # not given: the default's own default
    assert Config.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    assert cfg.to_dict()["model"]["backbone"] == "ppocrv6" and "options" not in cfg.to_dict()["model"]
    with pytest.raises(AttributeError):  # a key set as an attribute would be lost: refused
        cfg.model.backbone = "vgg"
    # a reference config written when every model's section held the default model's keys still loads: the
    # registry sets aside the keys that only another architecture reads
    old = Config.from_dict({"model": {"name": "reference", "view_height": 128, "view_width": 128, "max_len": 64,
                                      "channels": [32, 64, 128, 192], "embed_dim": 128, "backbone": "vgg"}})
    assert model_values(old.model)["max_len"] == 64 and "embed_dim" not in model_values(old.model)
    with pytest.raises(ConfigError, match="unknown config key 'model.embed_dims'; model reference has"):
        model_values(old.model.replace(embed_dims=128))  # a key no registered architecture reads


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  learning_rate: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'train.learning_rate'"):
        load_config(p)
    p.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_only_the_generator_is_a_generated_source():
    """``synthetic/labels.tsv`` is a labels file, not the generator: the glyph losses refuse it and it is shuffled
    like any labels file (issue 25: a startswith("synth") test took it for the generator)."""
    from seqocr.config import Config, is_synth, validate
    from seqocr.errors import ConfigError

    assert is_synth("synth") and is_synth("synth:split=test,n=4") and not is_synth("synthetic/labels.tsv")
    cfg = Config()
    cfg.data.train, cfg.train.attention_loss = "synthetic/labels.tsv", 0.2
    with pytest.raises(ConfigError, match="only the generator knows where each glyph is"):
        validate(cfg)
    cfg.data.train = "synth"
    validate(cfg)


def test_every_shipped_config_loads():
    """Every YAML file under configs/ reads, its bases with it; one that starts a model passes its architecture's
    checks (one from train.init_from takes the model config of its weights first, so it is checked then)."""
    from seqocr.model import check_config

    files = sorted(CONFIGS.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        cfg = load_config(path)
        if not cfg.train.init_from:
            check_config(cfg)


def test_a_config_extends_its_base(tmp_path):
    """``base:`` names the file a config extends, relative to its own folder; sections merge key by key, the later
    file winning, and every key of the chain counts as given (train.init_from checks them against the weights)."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "root.yaml").write_text("model:\n  hidden: 64\n  dropout: 0.2\ntrain:\n  steps: 10\n  betas: [0.5, 0.9]\n")
    (tmp_path / "recipes" / "mid.yaml").write_text("base: ../root.yaml\ntrain:\n  steps: 20\n")
    (tmp_path / "recipes" / "leaf.yaml").write_text("base: mid.yaml\nmodel:\n  dropout: 0.3\n  rows: 2\n")
    cfg = load_config(tmp_path / "recipes" / "leaf.yaml", ["train.seed=5"])
    assert (cfg.model.hidden, cfg.model.dropout, cfg.model.options["rows"]) == (64, 0.3, 2)
    assert (cfg.train.steps, cfg.train.betas, cfg.train.seed) == (20, [0.5, 0.9], 5)
    assert cfg.given == {"model.hidden", "model.dropout", "model.rows", "train.steps", "train.betas", "train.seed"}
    (tmp_path / "bad.yaml").write_text("base: root.yaml\ntrain:\n  stepz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'train.stepz'"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "root.yaml").write_text("train:\n  lr: many\n")  # an error in the base names the base
    with pytest.raises(ConfigError, match=r"root.yaml: train.lr must be float"):
        load_config(tmp_path / "recipes" / "leaf.yaml")


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"},
     r"b.yaml: base a.yaml makes a cycle \(.*a.yaml -> .*b.yaml -> .*a.yaml\)"),
    ({"a.yaml": "base: a.yaml\n"}, "a.yaml: base a.yaml makes a cycle"),
    ({"a.yaml": "base: none.yaml\n"}, r"a.yaml: base none.yaml not found \(.*none.yaml\)"),
    ({"a.yaml": "base: .\n"}, r"a.yaml: base . not found"),
    ({"a.yaml": "base: [b.yaml]\n"}, r"a.yaml: base must name a config file, got \['b.yaml'\]"),
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "- 1\n"}, "b.yaml: expected a mapping of sections, got list"),
])
def test_a_bad_base_is_one_line(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(tmp_path / "a.yaml")
    assert "\n" not in str(e.value)


def test_recipe_stages_and_experiments_are_short_overlays():
    """Each stage of the shipped recipe and each experiment names the config it extends and lists only what it
    changes, so that what a stage changes can be read in a few lines."""
    files = [*CONFIGS.glob("shipped*.yaml"), *(CONFIGS / "experiments").glob("*.yaml")]
    assert len(files) >= 16
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "\nbase: " in text and len(text.splitlines()) <= 25, path.name
