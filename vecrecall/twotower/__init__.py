"""Personalised two-tower recall trained on interaction logs.

The user tower encodes (user, recent items, optional query) → x, the item tower encodes an item → z, and xᵀz (cosine)
predicts an interaction (Covington et al., "Deep Neural Networks for YouTube Recommendations", RecSys 2016; Yi et al.,
"Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations", RecSys 2019).

Plain PyTorch rather than torch-rechub (0.9.0 checked: DSSM, YoutubeDNN, MatchTrainer, match_evaluation): its
trainer has neither the logQ correction nor a slope γ for the pairwise loss (BPR only), its negative sampling draws from
numpy's global RNG, features go through its own label-encoded Sparse/SequenceFeature frames with no text input, its
faiss extra pins faiss-cpu 1.13.0 (vecrecall uses 1.15), and match evaluation is what `vecrecall eval` already does.

Modules, one job each:
  log        read an interaction log (and optional item / user tables) into one typed frame, refusing bad input
  split      chronological split: leave-last-out per user, or a time cut-off; cold-start and duplicate counts
  features   vocabularies and tensors: ids, categorical feature bags, text vectors, recent-item histories
  model      the two towers (plain PyTorch)
  losses     in-batch softmax (± logQ correction), sampled softmax, pairwise logistic ln(1+exp(−γ(s⁺−s⁻)))
  negatives  random, in-batch and "retrieved but not clicked" (impression) negatives
  trainer    the seeded, deterministic training loop
  topk       exact top-k with each request's training items removed (candidates = all items − seen)
  baselines  most-popular, item-item co-occurrence, text-only bi-encoder
  pipeline   finetune-two-tower end to end: model directory with user/item embeddings artifacts + held-out qrels
  daily      the daily cycle: train on days 1..t, evaluate on day t+1, incremental vs full retrain
"""
