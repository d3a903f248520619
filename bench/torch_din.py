#!/usr/bin/python3
"""Plain-PyTorch DIN on an mmctr sample store: the same model, data, order-free batching and
optimiser settings as `mmctr train` with configs/movielens-din.json, so that one run of
bench:train-din can compare both AUC (is our DIN right?) and throughput (is our engine fast?).

Reads the store's column files directly (numpy.fromfile). Embeddings are nn.Embedding updated by
dense Adam, as the common PyTorch CTR frameworks do.
Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_din.py STORE [--seed 1] [--threads 2]
Prints one JSON line: auc, gauc, logloss, samples_per_s (end to end), seconds.
"""
import argparse, json, os, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('store')
p.add_argument('--seed', type=int, default=1)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--batch', type=int, default=1024)
p.add_argument('--dim', type=int, default=32)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

meta = json.load(open(os.path.join(args.store, 'meta.json')))
L = meta['config']['historyLength']
# The category field's index per item (catalog/field-<k>.i32, k = its place in meta.itemFields: src/data/store.ts);
# its vocabulary size is the largest index.
k = meta['itemFields'].index('category')
cate_np = np.fromfile(os.path.join(args.store, 'catalog', f'field-{k}.i32'), dtype=np.int32)
cate_of = torch.from_numpy(cate_np.astype(np.int64))
n_cate = int(cate_np.max())


def load(split):
    d = os.path.join(args.store, split)
    col = lambda name, dt: np.fromfile(os.path.join(d, name), dtype=dt)
    return {
        'user': torch.from_numpy(col('user.i32', np.int32).astype(np.int64)),
        'item': torch.from_numpy(col('item.i32', np.int32).astype(np.int64)),
        'label': torch.from_numpy(col('label.f32', np.float32)),
        'hist': torch.from_numpy(col('hist.i32', np.int32).astype(np.int64).reshape(-1, L)),
        'len': torch.from_numpy(col('hist_len.i32', np.int32).astype(np.int64)),
    }


class Dice(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.bn = nn.BatchNorm1d(n, eps=1e-8, momentum=0.01, affine=False)
        self.alpha = nn.Parameter(torch.zeros(n))

    def forward(self, x):
        p = torch.sigmoid(self.bn(x))
        return x * (self.alpha + p * (1 - self.alpha))


def mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), Dice(b)]
    return layers


class DIN(nn.Module):
    def __init__(self, n_items, n_users, d):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, d)
        self.cate = nn.Embedding(n_cate + 1, d)
        self.user = nn.Embedding(n_users + 1, d)
        for e in (self.item, self.cate, self.user):
            nn.init.normal_(e.weight, std=1e-4)
        D = 2 * d
        self.att = nn.Sequential(*mlp([4 * D, 80, 40]), nn.Linear(40, 1))
        self.over = nn.Sequential(*mlp([d + 2 * D, 200, 80]), nn.Linear(80, 1))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def emb(self, items):
        return torch.cat([self.item(items), self.cate(cate_of[items])], -1)

    def forward(self, b):
        q, k = self.emb(b['item']), self.emb(b['hist'])
        B = q.shape[0]
        mask = (torch.arange(L)[None, :] < b['len'][:, None]).float()
        qe = q[:, None, :].expand_as(k)
        att_in = torch.cat([qe, k, qe - k, qe * k], 2).reshape(B * L, -1)
        w = self.att(att_in).reshape(B, L) * mask
        pooled = torch.bmm(w[:, None, :], k).squeeze(1)
        return self.over(torch.cat([self.user(b['user']), q, pooled], 1)).squeeze(1)


def auc(scores, labels):
    order = np.argsort(scores, kind='mergesort')
    s, y = scores[order], labels[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float('nan')
    return (ranks[y > 0.5].sum() - pos * (pos + 1) / 2) / (pos * neg)


t0 = time.perf_counter()
train, test = load('train'), load('test')
model = DIN(meta['items'], meta['users'], args.dim)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
n = len(train['label'])
perm = torch.randperm(n)
model.train()
for s in range(0, n, args.batch):
    idx = perm[s:s + args.batch]
    b = {k: v[idx] for k, v in train.items()}
    loss = F.binary_cross_entropy_with_logits(model(b), b['label'])
    opt.zero_grad()
    loss.backward()
    opt.step()
train_seconds = time.perf_counter() - t0
model.eval()
with torch.no_grad():
    probs = torch.sigmoid(torch.cat([model({k: v[s:s + 4096] for k, v in test.items()}) for s in range(0, len(test['label']), 4096)])).numpy()
labels, users = test['label'].numpy(), test['user'].numpy()
weighted = weight = 0.0
for u in np.unique(users):
    m = users == u
    a = auc(probs[m], labels[m])
    if not np.isnan(a):
        weighted += m.sum() * a
        weight += m.sum()
pc = np.clip(probs, 1e-7, 1 - 1e-7)
print(json.dumps({
    'auc': round(float(auc(probs, labels)), 5), 'gauc': round(weighted / weight, 5),
    'logloss': round(float(-(labels * np.log(pc) + (1 - labels) * np.log(1 - pc)).mean()), 5),
    'samples_per_s': round(n / train_seconds), 'seconds': round(train_seconds, 2), 'torch': torch.__version__}))
