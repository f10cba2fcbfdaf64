"""``--model kmer-gbt``: gradient-boosted trees on the ``kmer-pos`` features, fitted by scikit-learn and scored in torch.

Why: the positional k-mer logistic regression gives each k-mer frequency one weight; trees also see which k-mers
occur together and where a frequency starts to matter. As a third member beside ``kmer-pos`` and a CNN it raised
validation AUROC on 29 of the 30 eCLIP sets (bench/results/kmer_gbt_member.md).

scikit-learn's ``HistGradientBoostingClassifier`` fits; its trees are copied into flat node arrays (feature,
threshold, children, leaf value) that ``bertrbp.kmer.KmerModel`` saves in model.safetensors, so nothing is pickled
and predict, scan, evaluate and variant-effect score it through the same path as every model. Scoring walks every
tree at once, one level per step, comparing float64 features with float64 thresholds as scikit-learn does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")

# on hnRNPL-1's (RBP-31) validation split, as a member beside kmer-pos and a CNN, learning rate 0.05 with 15 leaves
# (336 trees) scored 0.7891 against 0.7884 for these settings (102 trees) in twice the time
LEARNING_RATE = 0.1
MAX_TREES = 300
MAX_LEAF_NODES = 31
L2_REGULARIZATION = 1.0
PATIENCE_TREES = 20  # trees without improvement of the loss on the held-out tenth before the fit stops
TREE_BUFFERS = ("node_feature", "node_threshold", "node_left", "node_right", "node_value", "node_leaf", "tree_root")


def register_tree_buffers(model, tree_count: int, tree_nodes: int) -> None:
    """Empty node arrays of the sizes the config names (filled by ``set_trees`` or from model.safetensors)."""
    import torch

    model.register_buffer("node_feature", torch.zeros(tree_nodes, dtype=torch.int64))
    model.register_buffer("node_threshold", torch.zeros(tree_nodes, dtype=torch.float64))
    model.register_buffer("node_left", torch.zeros(tree_nodes, dtype=torch.int64))
    model.register_buffer("node_right", torch.zeros(tree_nodes, dtype=torch.int64))
    model.register_buffer("node_value", torch.zeros(tree_nodes, dtype=torch.float64))
    model.register_buffer("node_leaf", torch.ones(tree_nodes, dtype=torch.bool))
    model.register_buffer("tree_root", torch.zeros(tree_count, dtype=torch.int64))


def tree_log_odds(model, features):
    """[B] sum of every tree's leaf value for each row of ``features`` [B, n_features] (without the baseline)."""
    import torch

    x = features.double()
    roots = model.tree_root
    if roots.numel() == 0:
        return torch.zeros(x.shape[0], dtype=torch.float32, device=x.device)
    node = roots.unsqueeze(0).expand(x.shape[0], -1)  # [B, trees]
    for _ in range(model.config.tree_depth):
        value = torch.gather(x, 1, model.node_feature[node])
        child = torch.where(value <= model.node_threshold[node], model.node_left[node], model.node_right[node])
        node = torch.where(model.node_leaf[node], node, child)
    return model.node_value[node].sum(1).float()


@dataclass
class TreeArrays:
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    roots: np.ndarray
    depth: int


def tree_arrays(classifier) -> TreeArrays:
    """Flatten a fitted binary ``HistGradientBoostingClassifier``'s trees into one set of node arrays.

    Children are renumbered by each tree's offset. Leaves point at themselves, so a walk that has reached one
    stays there for the remaining levels."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("feature", "threshold", "left", "right", "value", "leaf")}
    roots, offset, depth = [], 0, 0
    for (predictor,) in classifier._predictors:  # one tree per boosting round for a binary loss
        nodes = predictor.nodes
        if predictor.raw_left_cat_bitsets.size and nodes["is_categorical"].any():
            raise ValueError("categorical splits are not supported")
        own = np.arange(len(nodes)) + offset
        leaf = nodes["is_leaf"].astype(bool)
        parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64))
        parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
        parts["left"].append(np.where(leaf, own, nodes["left"].astype(np.int64) + offset))
        parts["right"].append(np.where(leaf, own, nodes["right"].astype(np.int64) + offset))
        parts["value"].append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
        parts["leaf"].append(leaf)
        roots.append(offset)
        offset += len(nodes)
        depth = max(depth, int(nodes["depth"].max()))
    return TreeArrays(
        *(np.concatenate(parts[k]) for k in ("feature", "threshold", "left", "right", "value", "leaf")),
        roots=np.asarray(roots, dtype=np.int64),
        depth=depth,
    )


def set_trees(model, arrays: TreeArrays, baseline: float) -> None:
    """Give ``model`` (a ``KmerModel`` with ``head: trees``) these trees: new buffers and their sizes in its config."""
    import torch

    model.config.tree_count, model.config.tree_nodes = len(arrays.roots), len(arrays.feature)
    model.config.tree_depth = arrays.depth
    register_tree_buffers(model, model.config.tree_count, model.config.tree_nodes)
    with torch.no_grad():
        columns = (arrays.feature, arrays.threshold, arrays.left, arrays.right, arrays.value, arrays.leaf, arrays.roots)
        for name, values in zip(TREE_BUFFERS, columns):
            getattr(model, name).copy_(torch.from_numpy(np.ascontiguousarray(values)))
        model.bias.copy_(torch.tensor([float(baseline)]))


def check_tree_arrays(model, folder) -> None:
    """Refuse node arrays that point outside themselves or at features the model does not compute.

    Why: an edited or truncated file would otherwise index out of range deep inside torch (a traceback) or walk
    in circles; every child must lie within the nodes and every root start one."""
    from bertrbp.kmer import n_features

    nodes = model.config.tree_nodes
    size = n_features(model.config.max_k, model.config.position_bins, model.config.position_max_k)
    problems = []
    for name in ("node_left", "node_right", "tree_root"):
        values = getattr(model, name)
        if values.numel() and (values.min() < 0 or values.max() >= nodes):
            problems.append(f"{name} points outside its {nodes} nodes")
    feature = model.node_feature
    if feature.numel() and (feature.min() < 0 or feature.max() >= size):
        problems.append(f"node_feature names a feature outside the {size} computed")
    if not problems and not _leaves_within(model, model.config.tree_depth):
        problems.append(f"a walk of tree_depth {model.config.tree_depth} steps does not reach a leaf")
    if problems:
        raise InputError(
            f"{folder}: the k-mer trees are damaged ({'; '.join(problems)}). "
            "Train the model again with bertrbp-finetune --model kmer-gbt."
        )


def _leaves_within(model, depth: int) -> bool:
    """Whether every path from a root reaches a leaf within ``depth`` steps (scoring walks exactly that many)."""
    leaf = model.node_leaf.numpy()
    left, right = model.node_left.numpy(), model.node_right.numpy()
    frontier = np.unique(model.tree_root.numpy())
    for _ in range(depth):
        inner = frontier[~leaf[frontier]]
        frontier = np.unique(np.concatenate([left[inner], right[inner]]))  # unique: a damaged cycle stays bounded
    return bool(leaf[frontier].all())


@dataclass
class TreesFit:
    trees: int
    val_auroc: float
    train_loss: float
    classifier: object  # the fitted HistGradientBoostingClassifier (the tests compare the torch walk with it)


def fit_kmer_trees(model, train, val, seed: int = 42, threads: int = 1) -> TreesFit:
    """Fit boosted trees on ``train``'s k-mer features (stopping on a held-out tenth of it) and set them in ``model``.

    The project's validation split stays unseen by the fit, as it is for the other models, and scores the result."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss, roc_auc_score
    from threadpoolctl import threadpool_limits

    from bertrbp.kmer import dataset_features

    x_train = dataset_features(model, train.input_ids, train.attention_mask)
    y_train = train.labels.astype(int)
    classifier = HistGradientBoostingClassifier(
        learning_rate=LEARNING_RATE,
        max_iter=MAX_TREES,
        max_leaf_nodes=MAX_LEAF_NODES,
        l2_regularization=L2_REGULARIZATION,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=PATIENCE_TREES,
        random_state=seed,
    )
    with threadpool_limits(limits=max(1, threads)):
        classifier.fit(x_train, y_train)
    set_trees(model, tree_arrays(classifier), float(np.ravel(classifier._baseline_prediction)[0]))
    val_auroc = float("nan")
    if val is not None and len(set(val.labels.tolist())) == 2:
        x_val = dataset_features(model, val.input_ids, val.attention_mask)
        val_auroc = float(roc_auc_score(val.labels.astype(int), classifier.decision_function(x_val)))
    log.info("k-mer boosted trees: %d trees, validation AUROC %.4f", classifier.n_iter_, val_auroc)
    train_loss = float(log_loss(y_train, classifier.predict_proba(x_train)[:, 1], labels=[0, 1]))
    return TreesFit(int(classifier.n_iter_), val_auroc, train_loss, classifier)
