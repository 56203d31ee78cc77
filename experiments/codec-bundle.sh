# The codec to bundle: the time-local codec and its flow prior, with timgm6mb-soundfont held out of training
# for the held-out-source figures (docs/results.md, "The two-stage model"). Bundled, MODEL.md copies these
# commands (scripts/bundle_model.py --recipe).
dkvae import debian --out data/drums
dkvae train data/drums --config experiments/codec.json --out runs/codec                                  # 35 epochs at a constant rate
dkvae train data/drums --config experiments/codec-cosine.json --init runs/codec --out runs/codec-cosine   # 90 more, the rate decaying
dkvae prior runs/codec-cosine data/drums --steps 6000 --dilation-cycle 4                                 # the flow prior on its latents
python scripts/bundle_model.py runs/codec-cosine data/drums --recipe experiments/codec-bundle.sh              # bundle the weights
dkvae evaluate data/drums --out reports/bundled                                                          # evaluate the bundled model
for seed in 1 2 3 4; do dkvae evaluate data/drums --seed $seed --out reports/bundled-seed$seed; done       # other sounds, the same judge
python scripts/bundle_model.py runs/codec-cosine data/drums --recipe experiments/codec-bundle.sh --report reports/bundled --seeds reports/bundled-seed*   # and MODEL.md
