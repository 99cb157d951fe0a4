"""Grad-CAM: finding the feature layer (nested backbones included), and heatmaps that equal a
plain GradientTape reference."""
from __future__ import annotations

import numpy as np
import pytest

from harness.errors import NotAvailable, UserError
from model_factories import dermnet_spread

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from harness.explain.gradcam import GradCam  # noqa: E402

BACKBONE = "mobilenetv2_1.00_224"


def _dermnet_images(root, n: int) -> np.ndarray:
    return dermnet_spread(root, n)


@pytest.fixture(scope="module")
def model(nested_mobilenet):
    return keras.saving.load_model(nested_mobilenet)


@pytest.fixture(scope="module")
def images(dermnet_test):
    return _dermnet_images(dermnet_test, 4)


@pytest.fixture(scope="module")
def cam(model):
    return GradCam(model)


def _reference(model, images, layer: str, *, plus: bool = False) -> np.ndarray:
    """Grad-CAM written out by hand for this architecture: run the backbone to the feature map,
    then the head on a watched copy of it, and take the gradient of the pre-sigmoid logit."""
    backbone = model.get_layer(BACKBONE)
    to_feature = keras.Model(backbone.inputs, backbone.get_layer(layer).output)
    assert layer == "out_relu", "the head below starts at the backbone's output"
    x = model.get_layer("preprocess")(tf.constant(images, tf.float32))
    feature = to_feature(x, training=False)
    dense = model.get_layer("prob")
    with tf.GradientTape() as tape:
        tape.watch(feature)
        pooled = tf.reduce_mean(feature, axis=(1, 2))
        logit = tf.matmul(pooled, dense.kernel) + dense.bias
    grads = tape.gradient(logit, feature).numpy().astype(np.float64)
    a = feature.numpy().astype(np.float64)
    if plus:
        g2, g3 = grads**2, grads**3
        denom = 2 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
        alpha = g2 / np.where(denom != 0, denom, 1)
        weights = (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))
    else:
        weights = grads.mean(axis=(1, 2))
    return np.maximum(np.einsum("bhwc,bc->bhw", a, weights), 0)


def test_layer_found_inside_nested_backbone(cam):
    assert cam.layer_name == f"{BACKBONE}/out_relu"
    assert cam.target == "logit"


def test_heatmaps_equal_gradient_tape_reference(cam, model, images):
    got = cam.heatmaps(images, batch_size=4)
    ref = _reference(model, images, "out_relu")
    assert got.shape == (4, 7, 7) and got.dtype == np.float32
    assert ref.max() > 0 and (got > 0).mean() > 0.2  # a real map, not an all-zero one
    assert np.abs(got - ref).max() <= 1e-5 * ref.max()


def test_grad_cam_plus_plus_equals_its_formula(model, images):
    got = GradCam(model, plus=True).heatmaps(images[:4], batch_size=4)
    ref = _reference(model, images[:4], "out_relu", plus=True)
    assert np.abs(got - ref).max() <= 1e-5 * ref.max()


def test_identical_runs_are_bit_identical_and_padding_does_not_leak(cam, images):
    a = cam.heatmaps(images, batch_size=4)
    assert np.array_equal(a, cam.heatmaps(images, batch_size=4))
    # 3 images in a batch of 4: the last one is repeated as padding and dropped again.
    padded = cam.heatmaps(images[[2, 0, 1]], batch_size=4)
    np.testing.assert_allclose(padded, a[[2, 0, 1]], rtol=0, atol=1e-5 * a.max())


def test_negative_class_of_one_sigmoid_unit_is_the_other_sign(cam, images):
    pos = cam.heatmaps(images[:4], class_index=1, batch_size=4)
    neg = cam.heatmaps(images[:4], class_index=0, batch_size=4)
    assert np.array_equal(pos, cam.heatmaps(images[:4], batch_size=4))  # default: the unit's class
    # relu(S) and relu(-S) never overlap, and both carry evidence somewhere.
    assert not np.any((pos > 0) & (neg > 0))
    assert pos.max() > 0 and neg.max() > 0
    per_image = np.array([0, 1, 0, 1])
    mixed = cam.heatmaps(images[:4], class_index=per_image, batch_size=4)
    np.testing.assert_array_equal(mixed[per_image == 1], pos[per_image == 1])
    np.testing.assert_array_equal(mixed[per_image == 0], neg[per_image == 0])


@pytest.mark.parametrize("layer, grid", [
    ("block_16_project_BN", (7, 7)),  # by name, found inside the backbone
    # by path; inside a residual block, so the rest of the graph also needs the skip input
    (f"{BACKBONE}/block_5_add", (28, 28)),
])
def test_layer_override_by_name_or_path(model, images, layer, grid):
    c = GradCam(model, layer=layer)
    assert c.layer_name == f"{BACKBONE}/{layer.split('/')[-1]}"
    maps = c.heatmaps(images, batch_size=4)
    assert maps.shape == (4, *grid) and maps.max() > 0
    assert GradCam(model, layer=c.layer_name).layer_name == c.layer_name


@pytest.mark.parametrize("layer, words", [
    ("no_such_layer", "no layer named 'no_such_layer'"),
    ("pool", "does not output a spatial feature map"),
    (f"{BACKBONE}/nope", "no layer 'nope'"),
])
def test_bad_layer_is_a_one_line_user_error(model, layer, words):
    with pytest.raises(UserError, match=words) as err:
        GradCam(model, layer=layer)
    assert "\n" not in str(err.value) and "out_relu" in str(err.value)  # names what exists


# -- small models: other architectures, built in a few milliseconds ------------------------------


def _tiny_images(n: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _tiny_softmax(k: int = 3) -> keras.Model:
    keras.utils.set_random_seed(1)
    x = inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(k, activation="softmax", name="probs")(x)
    return keras.Model(inp, out)


def test_softmax_default_is_the_predicted_class():
    model = _tiny_softmax()
    images = _tiny_images(6)
    cam = GradCam(model)
    assert cam.layer_name == "conv_b" and cam.target == "logit"
    predicted = model(images.astype(np.float32)).numpy().argmax(axis=1)
    np.testing.assert_array_equal(cam.heatmaps(images, batch_size=4),
                                  cam.heatmaps(images, class_index=predicted, batch_size=4))
    other = (predicted + 1) % 3
    assert not np.allclose(cam.heatmaps(images, class_index=other, batch_size=4),
                           cam.heatmaps(images, class_index=predicted, batch_size=4))
    with pytest.raises(ValueError, match="class_index must be in 0..2"):
        cam.heatmaps(images, class_index=3)


def test_frozen_sequential_model_with_separate_activation():
    """Every layer frozen (no watched variables), a Sequential graph, sigmoid as its own layer:
    gradients still reach the feature map and the logit is still found."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, name="logit"),
        keras.layers.Activation("sigmoid", name="p"),
    ])
    model.trainable = False
    cam = GradCam(model)
    assert cam.layer_name == "conv" and cam.target == "logit"
    images = _tiny_images(3)
    x = images.astype(np.float32)
    conv = model.get_layer("conv")
    with tf.GradientTape() as tape:
        feature = conv(tf.constant(x))
        tape.watch(feature)
        z = model.get_layer("logit")(tf.reduce_mean(feature, axis=(1, 2)))
    weights = tf.reduce_mean(tape.gradient(z, feature), axis=(1, 2))
    ref = tf.nn.relu(tf.einsum("bhwc,bc->bhw", feature, weights)).numpy()
    got = cam.heatmaps(images, batch_size=2)
    assert got.shape == (3, 15, 15) and ref.max() > 0
    assert np.abs(got - ref).max() <= 1e-5 * ref.max()


def test_linear_output_is_used_as_it_is():
    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    out = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x))
    assert GradCam(keras.Model(inp, out)).target == "output"


def test_preprocess_callable_is_applied():
    model = _tiny_softmax()
    images = _tiny_images(2)
    plain = GradCam(model).heatmaps(images, class_index=0)
    inverted = GradCam(model, preprocess=lambda b: 255.0 - b.astype(np.float32))
    assert not np.allclose(inverted.heatmaps(images, class_index=0), plain)
    np.testing.assert_array_equal(inverted.heatmaps(255 - images, class_index=0), plain)


def test_models_without_gradients_are_not_available():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(keras.ops.mean(x, axis=(1, 2)))

    with pytest.raises(NotAvailable, match="Functional or Sequential"):
        GradCam(Subclassed())
    with pytest.raises(NotAvailable):
        GradCam(lambda images: np.zeros(len(images)))
    inp = keras.Input((8,))
    with pytest.raises(NotAvailable, match="no spatial feature map"):
        GradCam(keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(inp)))


def test_one_trace_per_batch_size_whatever_the_number_of_images():
    cam = GradCam(_tiny_softmax())
    for n in (5, 9, 3, 8):  # 3 images still run in one padded batch of 4
        assert cam.heatmaps(_tiny_images(n), batch_size=4).shape == (n, 7, 7)
    (step,) = cam._steps.values()
    assert step.experimental_get_tracing_count() == 1
    assert cam.heatmaps(_tiny_images(0), batch_size=4).shape == (0, 7, 7)


def test_building_the_gradient_model_leaves_the_model_intact(tmp_path):
    model = _tiny_softmax()
    images = _tiny_images(3).astype(np.float32)
    before = model(images).numpy()
    GradCam(model)
    GradCam(model, layer="conv_a")
    np.testing.assert_array_equal(model(images).numpy(), before)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(images).numpy(), before, rtol=1e-6)
    assert GradCam(again).layer_name == "conv_b"
