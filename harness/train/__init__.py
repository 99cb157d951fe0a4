"""Training the DermaTrace classifier (``harness train``; entry point :func:`harness.train.run.train_model`).

``recipes`` the recipe table; ``options`` and ``training_data`` the checked options and training
images; ``backbone``, ``features`` the MobileNetV2 backbone and its cached pooled features;
``heads``, ``finetune``, ``small_cnn`` how each recipe trains, ``fitting`` which one runs;
``batches`` and ``callbacks`` what Keras' ``fit`` is given; ``validation`` folds, out-of-fold
predictions and the threshold; ``classifier`` the saved Keras model; ``save`` the model and its
sidecar; ``run`` the steps in order.
"""
