"""Training and evaluation: `train` (the `vn-perception train` command), `evaluate` (`vn-perception evaluate`),
`metrics` (accuracy, rotation errors), `real` (real YCB-Video frames as labelled clouds), `distributed`
(torchrun set-up), `throughput` (training samples per second of the encoders)."""
