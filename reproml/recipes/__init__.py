"""Model recipes: what a classifier or a GAN experiment is made of, for any Sacred Experiment.

`classifier` / `gan`: one frozen hyper-parameter object each (`ClassifierHParams`, `GANHParams`:
every config entry checked once), the Estimator built from it, and what a run reports at its end
(plots, export, scores). `classifier_experiment` / `gan_experiment`: `add_classifier(ex, ...)` /
`add_gan(ex, ...)` give any Experiment the config with its comments, the validators and the
commands (serialize, evaluate, export, embed, drift, scenario), and `train_classifier` /
`train_gan` its main. The top layer below `cli`: a recipe wires models, the training loop, what
a run records and the drift commands together.
"""
