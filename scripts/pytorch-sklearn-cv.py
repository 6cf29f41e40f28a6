# The README's check of two rows of the scikit-learn table ("Training on your own data") in
# PyTorch on this machine: 5-fold cross-validation (stratified for classes, folds dealt as
# Dataset.kFoldIndices does; CrossValidation used them before it took scikit-learn's own), features standardized on each training fold, MLP 64-64,
# Adam 1e-3, batch 32 (last partial batch kept, reshuffled every epoch), 100 epochs,
# nn.Linear's default initialization; diabetes with its targets standardized per training
# fold and raw; seeds 0-4. Needs torch and numpy, e.g. the virtual environment of
# scripts/bench-pytorch.sh: .venv-bench/bin/python scripts/pytorch-sklearn-cv.py diabetes|wine [FIRST END]
# (seeds FIRST..<END instead of 0-4). diabetes-kfold: the protocol a PyTorch user would more
# likely write, scikit-learn's KFold(5, shuffle=True, random_state=seed) (contiguous folds of
# one shuffled order), torch.manual_seed(seed) once, a shuffling DataLoader; targets
# standardized per training fold, and the mean over the seeds. diabetes-folds0: the same with
# the folds of random_state=0 (the issue's) held and only torch's seed moving.
import sys, numpy as np, torch, torch.nn as nn
D = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"
torch.set_num_threads(2)

def folds(y, k, seed, stratified):
    rng = np.random.RandomState(seed)
    idx = np.arange(len(y))
    test = [[] for _ in range(k)]
    groups = [idx[y == c] for c in np.unique(y)] if stratified else [idx]
    nxt = 0
    for g in groups:
        g = g.copy(); rng.shuffle(g)
        for i in g:
            test[nxt].append(i); nxt = (nxt + 1) % k
    return [(np.setdiff1d(idx, t), np.array(sorted(t))) for t in test]

def run(x, y, classes, seed, scale_targets):
    scores = []
    for f, (tr, te) in enumerate(folds(y if classes else np.zeros(len(y)), 5, seed, classes > 0)):
        torch.manual_seed(seed * 100 + f)
        m, s = x[tr].mean(0), x[tr].std(0); s[s == 0] = 1
        xtr, xte = torch.tensor((x[tr] - m) / s, dtype=torch.float32), torch.tensor((x[te] - m) / s, dtype=torch.float32)
        out = classes if classes else 1
        model = nn.Sequential(nn.Linear(x.shape[1], 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, out))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        if classes:
            ytr = torch.tensor(y[tr], dtype=torch.long); loss_fn = nn.CrossEntropyLoss()
        else:
            ym, ys = (y[tr].mean(), y[tr].std()) if scale_targets else (0.0, 1.0)
            ytr = torch.tensor((y[tr] - ym) / ys, dtype=torch.float32).unsqueeze(1); loss_fn = nn.MSELoss()
        g = torch.Generator().manual_seed(seed * 100 + f)
        for epoch in range(100):
            perm = torch.randperm(len(tr), generator=g)
            for b in range(0, len(tr), 32):
                i = perm[b:b + 32]
                opt.zero_grad(); loss = loss_fn(model(xtr[i]), ytr[i]); loss.backward(); opt.step()
        with torch.no_grad():
            p = model(xte).numpy()
        if classes:
            scores.append((p.argmax(1) == y[te]).mean())
        else:
            pred = p[:, 0] * ys + ym
            scores.append(1 - ((pred - y[te]) ** 2).sum() / ((y[te] - y[te].mean()) ** 2).sum())
    return np.mean(scores), np.std(scores)

def kfold_run(x, y, seed, torch_seed=None):
    """R² over scikit-learn's KFold(5, shuffle=True, random_state=seed), re-implemented (numpy only);
    torch.manual_seed(torch_seed) (default: seed) draws the weights and the order."""
    from torch.utils.data import DataLoader, TensorDataset
    order = np.arange(len(y)); np.random.RandomState(seed).shuffle(order)
    sizes = np.full(5, len(y) // 5); sizes[: len(y) % 5] += 1
    torch.manual_seed(seed if torch_seed is None else torch_seed)
    scores, start = [], 0
    for size in sizes:
        te = order[start:start + size]; tr = np.concatenate([order[:start], order[start + size:]]); start += size
        m, s = x[tr].mean(0), x[tr].std(0)
        xtr, xte = torch.tensor((x[tr] - m) / s, dtype=torch.float32), torch.tensor((x[te] - m) / s, dtype=torch.float32)
        ym, ys = y[tr].mean(), y[tr].std()
        ytr = torch.tensor((y[tr] - ym) / ys, dtype=torch.float32).unsqueeze(1)
        model = nn.Sequential(nn.Linear(x.shape[1], 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for epoch in range(100):
            for xb, yb in DataLoader(TensorDataset(xtr, ytr), batch_size=32, shuffle=True):
                opt.zero_grad(); nn.functional.mse_loss(model(xb), yb).backward(); opt.step()
        with torch.no_grad():
            pred = model(xte).numpy()[:, 0] * ys + ym
        scores.append(1 - ((pred - y[te]) ** 2).sum() / ((y[te] - y[te].mean()) ** 2).sum())
    return np.mean(scores)

which = sys.argv[1]
seeds = range(int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else range(5)
if which == "diabetes-kfold":
    x = np.loadtxt(D + "diabetes_data_raw.csv.gz"); y = np.loadtxt(D + "diabetes_target.csv.gz")
    r2 = []
    for seed in seeds:
        r2.append(kfold_run(x, y, seed))
        print("diabetes KFold seed", seed, "r2 %.4f" % r2[-1], flush=True)
    print("diabetes KFold mean r2 %.4f, sd %.4f, standard error %.4f over %d seeds"
          % (np.mean(r2), np.std(r2), np.std(r2) / np.sqrt(len(r2)), len(r2)))
elif which == "diabetes-folds0":
    x = np.loadtxt(D + "diabetes_data_raw.csv.gz"); y = np.loadtxt(D + "diabetes_target.csv.gz")
    r2 = []
    for t in seeds:
        r2.append(kfold_run(x, y, 0, t))
        print("diabetes KFold random_state 0, torch seed", t, "r2 %.4f" % r2[-1], flush=True)
    print("diabetes KFold random_state 0: mean r2 %.4f, sd %.4f over %d torch seeds" % (np.mean(r2), np.std(r2), len(r2)))
elif which == "diabetes":
    x = np.loadtxt(D + "diabetes_data_raw.csv.gz"); y = np.loadtxt(D + "diabetes_target.csv.gz")
    for seed in seeds:
        print("diabetes seed", seed, "standardized targets %.4f ± %.4f" % run(x, y, 0, seed, True),
              "raw targets %.4f ± %.4f" % run(x, y, 0, seed, False), flush=True)
else:
    d = np.loadtxt(D + "wine_data.csv", delimiter=",", skiprows=1); x, y = d[:, :-1], d[:, -1].astype(int)
    for seed in seeds:
        print("wine seed", seed, "%.4f ± %.4f" % run(x, y, 3, seed, False), flush=True)
