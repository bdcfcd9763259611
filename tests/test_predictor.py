import json
from importlib import resources

import numpy as np
import pytest

from autodip.analysis.texture import FEATURE_NAMES
from autodip.analysis.width_predictor import (
    WIDTHS,
    WidthModel,
    choose_architecture,
    fit_width_model,
    load_width_model,
    macro_auc,
    micro_auc,
    predict_width,
    read_width_labels,
    roc_auc,
    stratified_folds,
)
from autodip.io import read_image


def f16_crop():
    pixels, _ = read_image(str(resources.files("autodip") / "data" / "f16_256_clean.png"))
    return pixels


def random_blocks():
    """Seeded random 2×2 blocks, 96×128 grey: fine, high-contrast texture."""
    rng = np.random.default_rng(0)
    return np.kron(rng.random((1, 48, 64)), np.ones((1, 2, 2))).astype(np.float32)


def waves():
    """Two periodic patterns (periods 7×5 px and 40 px), 96×128 grey."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    pattern = 0.5 + 0.25 * np.sin(2 * np.pi * xx / 7) * np.sin(2 * np.pi * yy / 5)
    return (pattern + 0.2 * np.sin(2 * np.pi * xx / 40))[None].astype(np.float32)


# Predictions of the shipped model (src/autodip/data/width_predictor.json), committed so that a
# retrained or changed model, or changed features, shows up here. Update them with the model.
COMMITTED = [
    (f16_crop, 64, (0.301237, 0.547925, 0.150837)),
    (random_blocks, 128, (0.000004, 0.000000, 0.999996)),
    (waves, 32, (0.948530, 0.013731, 0.037738)),
]


@pytest.mark.parametrize(("make", "width", "probabilities"), COMMITTED)
def test_shipped_model_gives_the_committed_predictions(make, width, probabilities):
    got_width, got_probabilities, features = predict_width(make())
    assert got_width == width
    assert list(got_probabilities) == list(WIDTHS)
    assert list(got_probabilities.values()) == pytest.approx(probabilities, abs=1e-4)
    assert set(FEATURE_NAMES) <= set(features)


def test_shipped_model_file_is_plain_json_with_provenance():
    path = resources.files("autodip") / "data" / "width_predictor.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["classes"] == list(WIDTHS) and data["feature_names"] == list(FEATURE_NAMES)
    provenance = data["provenance"]
    assert provenance["command"].startswith("autodip train-width")
    assert provenance["labels"]["variant"] == "NoRepeat"
    assert provenance["labels"]["images"] == 86
    assert 0 in provenance["training_noise"]["sigmas"]
    assert {"date", "features"} <= set(provenance)
    model = load_width_model()
    assert model.classes == WIDTHS and model.coef.shape == (len(FEATURE_NAMES), 3)


def test_model_round_trips_through_json(tmp_path):
    model = load_width_model()
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_dict()))
    again = load_width_model(path)
    x = np.random.default_rng(0).normal(size=(5, len(FEATURE_NAMES))) * model.scale + model.mean
    assert np.array_equal(again.predict_proba(x), model.predict_proba(x))


def test_broken_model_files_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_width_model(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"is not JSON \(.* at line 1, column 2\)"):
        load_width_model(bad)
    wrong = tmp_path / "wrong.json"
    data = load_width_model().to_dict()
    data["coef"] = data["coef"][:2]
    wrong.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="malformed"):
        load_width_model(wrong)


def test_fine_texture_gets_more_width_than_a_smooth_image():
    xx = np.mgrid[0:96, 0:128][1]
    smooth = (0.3 + 0.4 * xx / 127)[None].astype(np.float32)
    _, p_smooth, _ = predict_width(smooth)
    _, p_rough, _ = predict_width(random_blocks())
    assert p_rough[128] > p_smooth[128]


def test_choose_architecture_is_json_able_and_names_a_2_level_bilinear_hourglass():
    choice = choose_architecture(f16_crop())
    json.dumps(choice)
    assert choice["net"] == "hourglass"
    assert choice["options"] == {"width": 64, "depth": 2, "upsample": "bilinear"}
    assert list(choice["probabilities"]) == ["32", "64", "128"]
    assert choice["model"]["labels"] == "NoRepeat"


def test_fit_recovers_a_separable_problem_and_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    y = np.repeat(WIDTHS, 30)
    x = centres[np.repeat(np.arange(3), 30)] + 0.5 * rng.standard_normal((90, 2))
    model = fit_width_model(x, y, feature_names=["psd_r75", "psd_slope"])
    proba = model.predict_proba(x)
    assert np.allclose(proba.sum(axis=1), 1)
    assert np.mean(np.array(WIDTHS)[proba.argmax(axis=1)] == y) > 0.95
    assert micro_auc(y, proba) > 0.99
    # Deterministic: the same data gives the same model.
    again = fit_width_model(x, y, feature_names=["psd_r75", "psd_slope"])
    assert np.array_equal(again.coef, model.coef)


def test_fit_gradient_vanishes_at_the_solution():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    y = np.array(WIDTHS)[rng.integers(0, 3, 40)]
    alpha = 0.1
    model = fit_width_model(x, y, alpha=alpha, feature_names=list(FEATURE_NAMES[:3]))
    z = (x - model.mean) / model.scale
    onehot = (y[:, None] == np.array(WIDTHS)[None]).astype(float)
    residual = model.predict_proba(x) - onehot
    assert np.abs(z.T @ residual / 40 + alpha * model.coef).max() < 1e-8
    assert np.abs(residual.mean(axis=0)).max() < 1e-8


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="not among the classes"):
        fit_width_model(np.zeros((2, 1)), [32, 48], feature_names=["psd_r75"])
    with pytest.raises(ValueError, match="n×1"):
        fit_width_model(np.zeros((3, 2)), [32, 64, 128], feature_names=["psd_r75"])


def test_roc_auc_on_hand_made_examples():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # Pairs (pos, neg): (0.35 vs 0.1 ✓, vs 0.4 ✗), (0.8 ✓, ✓) -> 3/4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # One tie among the 2×2 pairs counts half: (0.5 vs 0.5) -> (1 + 1 + 1 + 0.5) / 4.
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.2]) == 0.875
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.1, 0.2])


def test_micro_and_macro_auc_on_a_hand_made_example():
    y = [32, 64, 128, 64]
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.5, 0.4], [0.2, 0.6, 0.2]])
    # Micro: 12 scores, positives 0.7, 0.4, 0.4, 0.6; negatives
    # 0.2, 0.1, 0.3, 0.3, 0.1, 0.5, 0.2, 0.2. Pairs won: 0.7: 8; 0.6: 8; each 0.4: 7 -> 30/32.
    assert micro_auc(y, proba) == pytest.approx(30 / 32)
    # Macro: class 32 -> 1; class 64 -> positives 0.4, 0.6 vs 0.2, 0.5 -> 3/4; class 128 ->
    # positive 0.4 vs 0.1, 0.3, 0.2 -> 1.
    assert macro_auc(y, proba) == pytest.approx((1 + 0.75 + 1) / 3)


def test_stratified_folds_spread_every_class_and_are_seeded():
    y = np.array([32] * 11 + [64] * 58 + [128] * 17)
    folds = stratified_folds(y, 5, seed=3)
    assert np.array_equal(folds, stratified_folds(y, 5, seed=3))
    assert not np.array_equal(folds, stratified_folds(y, 5, seed=4))
    for width in WIDTHS:
        counts = np.bincount(folds[y == width], minlength=5)
        assert counts.max() - counts.min() <= 1


def test_read_width_labels_resolves_paths_and_checks_them(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "variant,width_label,image,original_name\n"
        "NoRepeat,64,a.png,x.png\nwRepeat,32,a.png,x.png\nwRepeat,64,a.png,x.png\n"
    )
    assert read_width_labels(csv, tmp_path) == [("a.png", tmp_path / "a.png", 64)]
    assert [w for *_, w in read_width_labels(csv, tmp_path, "wRepeat")] == [32, 64]
    csv.write_text("variant,width_label,image\nNoRepeat,64,missing.png\n")
    with pytest.raises(ValueError, match="not found"):
        read_width_labels(csv, tmp_path)
    csv.write_text("variant,width_label,image\nNoRepeat,48,a.png\n")
    with pytest.raises(ValueError, match="width 48"):
        read_width_labels(csv, tmp_path)


def test_width_model_checks_the_number_of_features():
    model = load_width_model()
    with pytest.raises(ValueError, match="features per row"):
        model.predict_proba(np.zeros((1, 2)))
    assert isinstance(model, WidthModel)
