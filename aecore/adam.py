"""Adam through TensorFlow's fused kernel (``ResourceApplyAdam``): one pass over each weight.

Keras 3's ``keras.optimizers.Adam`` updates a weight with about ten separate TensorFlow ops
(each a pass over the weight, most with a temporary); for an MLP with many weights and small
batches, as the book's VAEs are, that is a noticeable part of a CPU training step.
``ResourceApplyAdam`` does the same update in one kernel. The algorithm is the same (Kingma & Ba 2015, with Keras' ``epsilon`` outside the
square root and the bias correction folded into the step size). The results are not bit for
bit Keras': the kernel computes ``1 - beta`` in float32, Keras in float64.

Every model of the book trains with it (:func:`aecore.optim.make_optimizer`);
``tests/test_adam.py`` checks it against a float64 NumPy Adam.
"""

from __future__ import annotations

from typing import Any, Sequence

from aecore._tf import tf  # first: TensorFlow, quietly (keras imports it too)


class FusedAdam:
    """Adam for a fixed list of variables; create it outside ``tf.function``.

    Args:
      variables: the trainable variables (Keras or TensorFlow), in the order the gradients
        will come.
      learning_rate, beta_1, beta_2, epsilon: as ``keras.optimizers.Adam`` (same defaults).
      lr_scales: one factor per variable that multiplies its learning rate (default: 1 for all);
        :func:`aecore.vae.fit` gives a learned decoder sigma its own, larger step.
    """

    def __init__(self, variables: Sequence[Any], learning_rate: float = 1e-3, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, lr_scales: Sequence[float] | None = None) -> None:
        for name, value, low, high in (("learning_rate", learning_rate, 0.0, float("inf")),
                                       ("beta_1", beta_1, 0.0, 1.0), ("beta_2", beta_2, 0.0, 1.0),
                                       ("epsilon", epsilon, 0.0, float("inf"))):
            if not (isinstance(value, (int, float)) and low < value < high):
                raise ValueError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}")
        self.variables = list(variables)
        scales = [1.0] * len(self.variables) if lr_scales is None else [float(f) for f in lr_scales]
        if len(scales) != len(self.variables) or not all(f > 0 for f in scales):
            raise ValueError(f"lr_scales needs one positive factor per variable ({len(self.variables)}), got {lr_scales!r}")
        self.lr_scales = scales
        self._handles = [_tf_variable(v) for v in self.variables]
        self.m = [tf.Variable(tf.zeros_like(h), trainable=False) for h in self._handles]
        self.v = [tf.Variable(tf.zeros_like(h), trainable=False) for h in self._handles]
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    @property
    def state(self) -> list[tf.Variable]:
        """The optimizer's own variables: both moments of every weight and the step count."""
        return [*self.m, *self.v, self.iterations]

    def apply_gradients(self, grads: Sequence[tf.Tensor | None]) -> None:
        """One Adam step; ``grads[i]`` belongs to ``variables[i]`` (None: that weight is skipped)."""
        grads = list(grads)
        if len(grads) != len(self.variables):
            raise ValueError(f"got {len(grads)} gradients for {len(self.variables)} variables")
        step = tf.cast(self.iterations.assign_add(1), tf.float32)
        beta_1_power = tf.pow(tf.constant(self.beta_1, tf.float32), step)
        beta_2_power = tf.pow(tf.constant(self.beta_2, tf.float32), step)
        for var, m, v, grad, scale in zip(self._handles, self.m, self.v, grads, self.lr_scales):
            if grad is None:
                continue
            lr = self.learning_rate if scale == 1.0 else self.learning_rate * scale
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle, beta1_power=beta_1_power,
                beta2_power=beta_2_power, lr=tf.constant(lr, tf.float32),
                beta1=tf.constant(self.beta_1, tf.float32), beta2=tf.constant(self.beta_2, tf.float32),
                epsilon=tf.constant(self.epsilon, tf.float32), grad=tf.convert_to_tensor(grad))


def _tf_variable(variable: Any) -> tf.Variable:
    """The ``tf.Variable`` behind a Keras 3 variable (or the variable itself)."""
    if isinstance(variable, tf.Variable):
        return variable
    inner = getattr(variable, "value", None)  # keras.Variable -> its tf.Variable
    if not isinstance(inner, tf.Variable):
        raise TypeError(f"FusedAdam needs TensorFlow variables, got {type(variable).__name__}")
    return inner
