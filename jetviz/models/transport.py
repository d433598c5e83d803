"""Exact discrete optimal transport: a network simplex for the transportation problem, compiled with numba.

Solves, for supplies ``a`` ``(n,)`` > 0 and demands ``b`` ``(m,)`` > 0 of equal sums and a cost
matrix ``C`` ``(n, m)``,

    min_f Σ_ij f_ij C_ij,   f_ij ≥ 0,  Σ_j f_ij = a_i,  Σ_i f_ij = b_j,

exactly (to floating-point rounding): the answer is a basic optimal solution, proven optimal
by its dual potentials (every reduced cost C_ij − u_i − v_j ≥ −tol, tol = 1e-12 · max |C|).

It is the same primal network simplex as POT's ``emd_c`` and the ``wasserstein`` package
(both adapted from LEMON), specialised to the uncapacitated bipartite case:

* **Start.** LEMON starts from an artificial basis (all flow through a virtual root), and
  most of its pivots only build a first feasible tree. Here the start is the north-west
  corner rule on both point sets *sorted by their first coordinate* (η for jets), which is
  the optimal transport plan of the 1-d projections: a feasible spanning tree that is already
  close to optimal.
* **Pricing.** Block search over whole rows of the cost matrix (blocks of about √(nm) arcs;
  the most negative reduced cost of the first block that has one), each row scanned with
  four independent minima; Cunningham's last-blocking-arc rule picks the leaving arc.
* **Tree.** The basis is a rooted tree kept as LEMON keeps it: parent links, a preorder
  thread, the last node and the size of every subtree. One walk from both ends of the
  entering arc (up from the smaller subtree) finds the cycle, its apex and the leaving arc;
  the cut-off subtree is re-rooted by relinking a few runs of the thread; its potentials shift
  by one number (sinks store −v_j, so sources and sinks shift alike) — or, when it is the
  larger part, the rest of the tree shifts the other way (reduced costs only see differences).
  No helper call inside the pivot loop (numba would reference-count its array arguments) and
  unsigned indices in the hot loops (no negative-index wraparound).
* **No Python per pair.** :func:`pairwise_tile` builds the cost matrices and solves a whole
  tile of pairs of packed point sets in one compiled call that releases the GIL, so tiles run
  in threads. :func:`pair_plan` solves one pair of the same packing with the same code (so a
  single distance equals the matrix entry bit for bit) and returns its plan;
  :func:`pair_problem` returns the exact ``(a, b, C)`` that the solver sees, for a fallback.

If the iteration limit is reached the result code is 3 and the caller decides
(:mod:`jetviz.models.emd` then re-solves that pair with POT).

Ground metrics of the packed kernels (``metric``): :data:`EUCLIDEAN` (``phi_dim`` ≥ 0 names
the coordinate wrapped onto the circle, −1 none; periodic coordinates must already lie in
(−π, π]) and :data:`SPHERICAL` (unit 3-vectors; the angle between them, computed as
2·atan2(|x − y|, |x + y|), accurate at small angles). The cost is (θ/R)^p.

Compilation (a few seconds) happens on first use and is cached on disk by numba.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from jetviz.errors import SchemaError

__all__ = [
    "transport",
    "pairwise_tile",
    "pair_plan",
    "pair_problem",
    "cost_block",
    "OPTIMAL",
    "MAX_ITER_REACHED",
    "EUCLIDEAN",
    "SPHERICAL",
    "MARGINAL_RTOL",
]

#: Result codes (POT's): 1 = optimal, 3 = iteration limit reached.
OPTIMAL = 1
MAX_ITER_REACHED = 3
#: Ground metrics of the packed kernels.
EUCLIDEAN = 0
SPHERICAL = 1
#: :func:`transport` refuses supplies and demands whose sums differ by more than this (relative).
MARGINAL_RTOL = 1e-9

_TWO_PI = 2.0 * math.pi


@nb.njit(cache=True, nogil=True)
def _simplex(a, b, C, order_a, order_b, max_iter, tol, parent, pflow):
    """Solve one transportation problem; fills the basis tree, returns (cost, code, pivots).

    Nodes 0..n-1 are the sources (rows of C), n..n+m-1 the sinks (columns). The basis is the
    tree ``parent`` ``(n+m,)`` (−1 at the root); the tree arc between node k and parent[k] is the
    cell (row, column) of those two nodes and carries the flow ``pflow[k]``. The cost is summed
    over the tree arcs in node order (one summation order for every caller).

    The tree is kept as LEMON keeps it: a preorder thread (``thread``/``rev_thread``, cyclic),
    the last node of each subtree in it (``last``) and subtree sizes (``size``); a subtree is a
    contiguous run of the thread, so the potentials of a moved subtree (or, when that is the
    larger part, of the rest of the tree) are updated by a counted loop.
    """
    n = a.shape[0]
    m = b.shape[0]
    N = n + m
    # pot[i] = u_i at sources, pot[n + j] = −v_j at sinks: reduced cost C_ij − pot[i] + pot[n + j]
    pot = np.empty(N)
    size = np.ones(N, dtype=np.int64)
    thread = np.empty(N, dtype=np.int64)
    thread_u = thread.view(np.uint64)
    parent_u = parent.view(np.uint64)  # the same links, read with unsigned (wraparound-free) indices
    rev_thread = np.empty(N, dtype=np.int64)
    last = np.empty(N, dtype=np.int64)
    first_child = np.full(N, -1, dtype=np.int64)  # child/sibling links of the start only
    next_sib = np.full(N, -1, dtype=np.int64)
    created = np.empty(N, dtype=np.int64)

    # ---- start: north-west corner on the sorted point sets (a staircase = a spanning tree)
    ia = 0
    jb = 0
    row = order_a[0]
    col = order_b[0]
    ra = a[row]
    rb = b[col]
    root = row
    parent[row] = -1
    pot[row] = 0.0
    created[0] = row
    node = n + col  # the first cell brings in the first sink
    parent[node] = row
    pot[node] = -C[row, col]
    created[1] = node
    first_child[row] = node
    x = ra if ra < rb else rb
    pflow[node] = x
    ra -= x
    rb -= x
    for step in range(2, N):
        if (ra <= rb and ia < n - 1) or jb == m - 1:
            ia += 1  # next source, joined to the current sink
            row = order_a[ia]
            ra = a[row]
            node = row
            up = n + col
            pot[node] = C[row, col] + pot[up]
        else:
            jb += 1  # next sink, joined to the current source
            col = order_b[jb]
            rb = b[col]
            node = n + col
            up = row
            pot[node] = pot[up] - C[row, col]
        parent[node] = up
        created[step] = node
        next_sib[node] = first_child[up]
        first_child[up] = node
        x = ra if ra < rb else rb
        pflow[node] = x
        ra -= x
        rb -= x
    for step in range(N - 1, 0, -1):  # children joined after their parents
        node = created[step]
        size[parent[node]] += size[node]
    # the preorder thread of the start (a walk without a stack); the last node of a subtree is
    # size − 1 places after its root in preorder
    preorder = created  # reused: the creation order is no longer needed
    k = root
    prev = root
    count = 0
    while True:
        thread[prev] = k
        rev_thread[k] = prev
        preorder[count] = k
        last[k] = count  # for now: the position in preorder
        count += 1
        prev = k
        c = first_child[k]
        if c >= 0:
            k = c
            continue
        while k != root and next_sib[k] < 0:
            k = parent[k]
        if k == root:
            break
        k = next_sib[k]
    thread[prev] = root
    rev_thread[root] = prev
    for k in range(N):
        last[k] = preorder[last[k] + size[k] - 1]
    rows_per_block = max(1, int(math.sqrt(n * m)) // m)
    next_i = 0
    sides = np.empty((2, N), dtype=np.int64)  # the cycle: [0] from p up to the apex, [1] from q
    a_end = np.empty(N, dtype=np.int64)  # the stem's pieces (see the re-rooting below)
    b_start = np.empty(N, dtype=np.int64)
    b_end = np.empty(N, dtype=np.int64)
    pivots = 0
    code = OPTIMAL
    nu = nb.uint64(n)
    mu = nb.uint64(m)
    m4 = (mu // nb.uint64(4)) * nb.uint64(4)
    while True:
        # ---- pricing: block search, whole rows at a time, four running minima per row
        best = -tol
        in_i = -1
        lane0 = lane1 = lane2 = lane3 = lane_t = np.inf
        i = next_i
        in_block = 0
        for _scan in range(n):
            ui = pot[i]
            m0 = np.inf
            m1 = np.inf
            m2 = np.inf
            m3 = np.inf
            iu = nb.uint64(i)  # unsigned indices: no negative-index wraparound in the scan
            for j in range(nb.uint64(0), m4, nb.uint64(4)):
                r0 = C[iu, j] - ui + pot[nu + j]
                r1 = C[iu, j + nb.uint64(1)] - ui + pot[nu + j + nb.uint64(1)]
                r2 = C[iu, j + nb.uint64(2)] - ui + pot[nu + j + nb.uint64(2)]
                r3 = C[iu, j + nb.uint64(3)] - ui + pot[nu + j + nb.uint64(3)]
                m0 = r0 if r0 < m0 else m0
                m1 = r1 if r1 < m1 else m1
                m2 = r2 if r2 < m2 else m2
                m3 = r3 if r3 < m3 else m3
            mt = np.inf
            for j in range(m4, mu):
                r0 = C[iu, j] - ui + pot[nu + j]
                mt = r0 if r0 < mt else mt
            low = m1 if m1 < m0 else m0
            low = m2 if m2 < low else low
            low = m3 if m3 < low else low
            low = mt if mt < low else low
            if low < best:
                best = low
                in_i = i
                lane0 = m0  # the row's minimum per lane (j ≡ 0..3 mod 4, and the tail)
                lane1 = m1
                lane2 = m2
                lane3 = m3
                lane_t = mt
            i += 1
            if i == n:
                i = 0
            in_block += 1
            if in_block == rows_per_block:
                if in_i >= 0:
                    break
                in_block = 0
        if in_i < 0:
            break  # optimal
        if pivots >= max_iter:
            code = MAX_ITER_REACHED
            break
        pivots += 1
        next_i = i
        # the first column of that row reaching the minimum: scan only the lanes that reach it
        ui = pot[in_i]
        iu = nb.uint64(in_i)
        first = mu
        for lane in range(4):
            lane_min = lane0 if lane == 0 else lane1 if lane == 1 else lane2 if lane == 2 else lane3
            if lane_min == best:
                for j in range(nb.uint64(lane), m4, nb.uint64(4)):
                    if j >= first:
                        break
                    if C[iu, j] - ui + pot[nu + j] == best:
                        first = j
                        break
        if lane_t == best and first == mu:
            for j in range(m4, mu):
                if C[iu, j] - ui + pot[nu + j] == best:
                    first = j
                    break
        if first == mu:  # (cannot happen: best is one of the lane minima) a full scan
            for j in range(mu):
                if C[iu, j] - ui + pot[nu + j] <= best:
                    first = j
                    break
        in_j = np.int64(first)
        p = in_i
        q = n + in_j
        # ---- one walk from p and q up to the apex of the cycle p -> q -> (tree) -> p (always moving
        # up from the smaller subtree: an ancestor's is larger), noting the leaving arc: the last
        # blocking arc from the apex along the cycle's orientation (first minimum on the p side,
        # where arcs at sources lose θ; last minimum on the q side, where arcs at sinks lose θ;
        # the q side wins ties)
        u = nb.uint64(p)  # unsigned node indices: no wraparound on the walk's loads
        v = nb.uint64(q)
        n_p = 0
        n_q = 0
        p_min = np.inf
        p_len = 0
        q_min = np.inf
        q_len = 0
        while u != v:
            if size[u] <= size[v]:
                sides[0, n_p] = np.int64(u)
                n_p += 1
                if u < nu:
                    f = pflow[u]
                    if f < p_min:
                        p_min = f
                        p_len = n_p
                u = parent_u[u]
            else:
                sides[1, n_q] = np.int64(v)
                n_q += 1
                if v >= nu:
                    f = pflow[v]
                    if f <= q_min:
                        q_min = f
                        q_len = n_q
                v = parent_u[v]
        if q_len > 0 and q_min <= p_min:
            theta = q_min
            sd = 1
            length = q_len  # sides[1, :q_len]: from q up to the leaving node
            x_in = q
            y_in = p
            side_len = n_q
            other_len = n_p
        else:
            theta = p_min
            sd = 0
            length = p_len
            x_in = p
            y_in = q
            side_len = n_p
            other_len = n_q
        # ---- change the flows around the cycle
        if theta > 0:
            for t in range(n_p):
                k = sides[0, t]
                if k < n:
                    pflow[k] -= theta
                else:
                    pflow[k] += theta
            for t in range(n_q):
                k = sides[1, t]
                if k >= n:
                    pflow[k] -= theta
                else:
                    pflow[k] += theta
        # ---- the cut-off subtree S (of ``out``): its new preorder, re-rooted at x_in along the stem
        # s_0 = x_in, ..., s_L = out, is the old run of s_0's subtree, then for each s_k (k ≥ 1) the
        # pieces of its old subtree around s_{k-1}'s: [s_k .. before s_{k-1}] and
        # [after last[s_{k-1}] .. last[s_k]] (read before anything is rewritten)
        out = sides[sd, length - 1]
        moved = size[out]
        s_last = last[out]
        pre = rev_thread[out]
        post = thread[s_last]
        for l in range(1, length):
            below = sides[sd, l - 1]
            a_end[l] = rev_thread[below]
            b_start[l] = thread[last[below]]
            b_end[l] = last[sides[sd, l]] if last[sides[sd, l]] != last[below] else -1
        tail = last[x_in]
        for l in range(1, length):
            stem = sides[sd, l]
            thread[tail] = stem
            rev_thread[stem] = tail
            tail = a_end[l]
            if b_end[l] >= 0:
                thread[tail] = b_start[l]
                rev_thread[b_start[l]] = tail
                tail = b_end[l]
        # take S out of the thread; subtrees that ended with S now end just before it
        thread[pre] = post
        rev_thread[post] = pre
        k = parent[out]
        while k >= 0 and last[k] == s_last:
            last[k] = pre
            k = parent[k]
        # put S back right after y_in: y_in's subtree grows only at its end if it was a leaf
        after = thread[y_in]
        thread[y_in] = x_in
        rev_thread[x_in] = y_in
        thread[tail] = after
        rev_thread[after] = tail
        k = y_in
        while k >= 0 and last[k] == y_in:
            last[k] = tail
            k = parent[k]
        # sizes: S leaves the path from out's parent to the apex, joins the path from y_in to the
        # apex; along the stem each node keeps its old subtree minus its stem child's plus its new child's
        for t in range(length, side_len):
            size[sides[sd, t]] -= moved
        for t in range(other_len):
            size[sides[1 - sd, t]] += moved
        acc = 0
        for l in range(length - 1, 0, -1):
            acc += size[sides[sd, l]] - size[sides[sd, l - 1]]
            size[sides[sd, l]] = acc
            last[sides[sd, l]] = tail
        size[x_in] = moved
        last[x_in] = tail
        # ---- re-hang: reverse the stem's parent arcs, then x_in under y_in by the entering arc
        for l in range(length - 1, 0, -1):
            upper = sides[sd, l]
            child = sides[sd, l - 1]
            parent[upper] = child
            pflow[upper] = pflow[child]
        parent[x_in] = y_in
        pflow[x_in] = theta
        # ---- potentials: the entering arc's reduced cost becomes 0 when S shifts by delta, or,
        # equivalently (reduced costs only see differences), when the rest shifts by −delta:
        # update the smaller of the two
        delta = best if x_in < n else -best
        if 2 * moved <= N:
            ku = nb.uint64(x_in)
            for _ in range(moved):
                pot[ku] += delta
                ku = thread_u[ku]
        else:
            ku = nb.uint64(root)
            skip = nb.uint64(x_in)
            resume = nb.uint64(after)
            for _ in range(N - moved):
                pot[ku] -= delta
                ku = thread_u[ku]
                if ku == skip:
                    ku = resume
    cost = 0.0
    for k in range(N):
        par = parent[k]
        if par >= 0:
            if k < n:
                cost += C[k, par - n] * pflow[k]
            else:
                cost += C[par, k - n] * pflow[k]
    return cost, code, pivots


@nb.njit(cache=True, nogil=True)
def _tree_flow(parent, pflow, n, m):
    """The ``(n, m)`` plan of a basis tree."""
    flow = np.zeros((n, m))
    for k in range(n + m):
        par = parent[k]
        if par >= 0:
            if k < n:
                flow[k, par - n] += pflow[k]
            else:
                flow[par, k - n] += pflow[k]
    return flow


@nb.njit(cache=True, nogil=True)
def _max_abs(C):
    big = 0.0
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            c = abs(C[i, j])
            if c > big:
                big = c
    return big


@nb.njit(cache=True, nogil=True)
def _solve(a, b, C, key_a, key_b, max_iter):
    n = a.shape[0]
    m = b.shape[0]
    parent = np.empty(n + m, dtype=np.int64)
    pflow = np.empty(n + m)
    big = _max_abs(C)
    tol = 1e-12 * big if big > 0 else 1e-300
    cost, code, pivots = _simplex(a, b, C, np.argsort(key_a), np.argsort(key_b), max_iter, tol, parent, pflow)
    return _tree_flow(parent, pflow, n, m), cost, code, pivots


def transport(a, b, cost, max_iter: int = 10_000_000, eta_a=None, eta_b=None):
    """Exact optimal transport between ``a`` ``(n,)`` and ``b`` ``(m,)`` of equal sums on ``cost`` ``(n, m)``.

    Parameters
    ----------
    a, b : (n,), (m,) array_like
        Supplies and demands (finite, > 0); their sums must agree to a relative
        :data:`MARGINAL_RTOL` (1e-9): the balanced problem has no solution otherwise.
    cost : (n, m) array_like
        Finite cost of moving one unit of weight from i to j.
    max_iter : int, optional
        Pivot limit.
    eta_a, eta_b : (n,), (m,) array_like, optional
        1-d positions used to order the start (the η of the particles for jets); the index
        order when not given.

    Returns
    -------
    tuple
        ``(flow (n, m), total cost, result code, pivots)``; code 1 = optimal, 3 = limit reached.
        The flow's row sums are ``a`` and its column sums ``b`` rescaled to the sum of ``a``
        (a relative change below :data:`MARGINAL_RTOL`), to rounding.

    Raises
    ------
    SchemaError
        (a ValueError) Wrong shapes, non-positive or non-finite weights or costs, sums of
        ``a`` and ``b`` that differ.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    C = np.ascontiguousarray(cost, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or C.shape != (len(a), len(b)) or len(a) == 0 or len(b) == 0:
        raise SchemaError(f"need a (n,), b (m,) and cost (n, m) with n, m ≥ 1, got {a.shape}, {b.shape}, {C.shape}")
    for name, x in (("a", a), ("b", b)):
        if not np.isfinite(x).all() or (x <= 0).any():
            raise SchemaError(f"{name} must hold finite weights > 0 (found {x[~(np.isfinite(x) & (x > 0))][:3]})")
    if not np.isfinite(C).all():
        raise SchemaError("cost holds NaN or infinite values")
    total_a, total_b = float(a.sum()), float(b.sum())
    if abs(total_a - total_b) > MARGINAL_RTOL * max(total_a, total_b):
        raise SchemaError(
            f"the marginals differ: sum(a) = {total_a!r}, sum(b) = {total_b!r} (relative difference "
            f"{abs(total_a - total_b) / max(total_a, total_b):.2e} > {MARGINAL_RTOL:g}); the balanced problem "
            "has no plan with these row and column sums (normalise them, or add a particle carrying the difference)"
        )
    b = b * (total_a / total_b)  # equal masses to the last bit (a change of at most MARGINAL_RTOL)
    ea = np.arange(len(a), dtype=np.float64) if eta_a is None else np.ascontiguousarray(eta_a, dtype=np.float64)
    eb = np.arange(len(b), dtype=np.float64) if eta_b is None else np.ascontiguousarray(eta_b, dtype=np.float64)
    if ea.shape != a.shape or eb.shape != b.shape:
        raise SchemaError(f"eta_a {ea.shape} and eta_b {eb.shape} must match a {a.shape} and b {b.shape}")
    flow, value, code, pivots = _solve(a, b, C, ea, eb, int(max_iter))
    return flow, float(value), int(code), int(pivots)


# ----------------------------------------------------------------------------- packed point sets
@nb.njit(cache=True, nogil=True, inline="always")
def _cost_value(X, s, t, gdim, metric, phi_dim, inv_r, p):
    """(θ/R)^p between packed points s and t."""
    if metric == SPHERICAL:
        dm = 0.0
        dp = 0.0
        for d in range(gdim):
            x = X[s, d]
            y = X[t, d]
            dm += (x - y) * (x - y)
            dp += (x + y) * (x + y)
        z = 2.0 * math.atan2(math.sqrt(dm), math.sqrt(dp)) * inv_r
        if p == 1.0:
            return z
        if p == 2.0:
            return z * z
        return z**p
    d2 = 0.0
    for d in range(gdim):
        diff = X[s, d] - X[t, d]
        if d == phi_dim:
            diff = abs(diff)
            if diff > math.pi:
                diff = _TWO_PI - diff
        d2 += diff * diff
    q = d2 * (inv_r * inv_r)
    if p == 1.0:
        return math.sqrt(q)
    if p == 2.0:
        return q
    return q ** (0.5 * p)


@nb.njit(cache=True, nogil=True)
def cost_block(Xa, Xb, metric, phi_dim, R, p):
    """Cost (θ/R)^p ``(P_a, P_b)`` between points ``Xa`` ``(P_a, d)`` and ``Xb`` ``(P_b, d)`` (the kernels' formula)."""
    na = Xa.shape[0]
    nb_ = Xb.shape[0]
    gdim = Xa.shape[1]
    X = np.empty((na + nb_, gdim))
    X[:na] = Xa
    X[na:] = Xb
    out = np.empty((na, nb_))
    inv_r = 1.0 / R
    for i in range(na):
        for j in range(nb_):
            out[i, j] = _cost_value(X, i, na + j, gdim, metric, phi_dim, inv_r, p)
    return out


@nb.njit(cache=True, nogil=True)
def _build(w, X, totals, offsets, s, t, metric, phi_dim, R, p, norm, C_buffer, a, b, key_a, key_b, y_b):
    """The balanced problem of packed jets s → t in the buffers; returns (n, m, extra, tol, empty).

    Jets hold particles offsets[s]:offsets[s+1] of ``w`` (> 0, divided by the jet's total when
    ``norm``) and ``X`` ``(·, gdim)``; ``totals`` are the raw sums. Unnormalised, one extra
    particle of weight |ΣE − ΣE′| at zero cost joins the lighter side, and extra = |ΣE − ΣE′|
    is added to the value afterwards (the same as energyflow's extra particle at θ = R, which
    costs 1 per unit of weight). ``empty`` is True when either jet has no particle.
    """
    gdim = X.shape[1]
    sa = offsets[s]
    na = offsets[s + 1] - sa
    sb = offsets[t]
    nb_ = offsets[t + 1] - sb
    if na == 0 or nb_ == 0:
        return na, nb_, abs(totals[t] - totals[s]), 0.0, True
    n = na
    m = nb_
    diff = 0.0
    extra = 0.0
    if not norm:
        diff = totals[t] - totals[s]
        if diff > 0:
            n = na + 1
        elif diff < 0:
            m = nb_ + 1
        extra = abs(diff)
    C = C_buffer[: n * m].reshape((n, m))
    inv_r = 1.0 / R
    sum_a = 0.0
    for i in range(na):
        a[i] = w[sa + i]
        key_a[i] = X[sa + i, 0]
        sum_a += w[sa + i]
    sum_b = 0.0
    for j in range(nb_):
        b[j] = w[sb + j]
        key_b[j] = X[sb + j, 0]
        sum_b += w[sb + j]
    if metric == EUCLIDEAN and gdim == 2 and phi_dim != 0:
        # the common (η, φ) case in straight loops that vectorise: θ²/R² first, then the power;
        # the same operations in the same order as _cost_value
        for j in range(nb_):
            y_b[j] = X[sb + j, 1]
        inv_r2 = inv_r * inv_r
        half_p = 0.5 * p
        mb = nb.uint64(nb_)
        for i in range(na):
            e1 = X[sa + i, 0]
            f1 = X[sa + i, 1]
            iu = nb.uint64(i)
            if phi_dim == 1:
                for j in range(mb):
                    de = e1 - key_b[j]
                    df = abs(f1 - y_b[j])
                    df = _TWO_PI - df if df > math.pi else df
                    d2 = 0.0
                    d2 += de * de
                    d2 += df * df
                    C[iu, j] = d2 * inv_r2
            else:
                for j in range(mb):
                    de = e1 - key_b[j]
                    df = f1 - y_b[j]
                    d2 = 0.0
                    d2 += de * de
                    d2 += df * df
                    C[iu, j] = d2 * inv_r2
            if p == 1.0:
                for j in range(mb):
                    C[iu, j] = math.sqrt(C[iu, j])
            elif p != 2.0:
                for j in range(mb):
                    C[iu, j] = C[iu, j] ** half_p
    else:
        for i in range(na):
            for j in range(nb_):
                C[i, j] = _cost_value(X, sa + i, sb + j, gdim, metric, phi_dim, inv_r, p)
    big = 0.0
    for i in range(na):
        iu = nb.uint64(i)
        for j in range(nb.uint64(nb_)):
            c = C[iu, j]
            big = c if c > big else big
        if m > nb_:
            C[i, nb_] = 0.0
    if n > na:
        for j in range(m):
            C[na, j] = 0.0
        a[na] = diff
        key_a[na] = np.inf  # the extra particle comes last in the start
        sum_a += diff
    if m > nb_:
        b[nb_] = -diff
        key_b[nb_] = np.inf
        sum_b += -diff
    scale = sum_a / sum_b  # equal masses to the last bit, as ot.emd does
    for j in range(m):
        b[j] *= scale
    tol = 1e-12 * big if big > 0 else 1e-300
    return n, m, extra, tol, False


@nb.njit(cache=True, nogil=True)
def _jet_orders(X, offsets):
    """Each packed jet's particles sorted by their first coordinate (local indices, stable): the start's order."""
    order = np.empty(X.shape[0], dtype=np.int64)
    for k in range(offsets.shape[0] - 1):
        s = offsets[k]
        e = offsets[k + 1]
        if e > s:
            order[s:e] = np.argsort(X[s:e, 0], kind="mergesort")
    return order


@nb.njit(cache=True, nogil=True, inline="always")
def _start_order(orders, offsets, s, count, out):
    """``out[:count]``: jet s's order, then the extra particle (index count − 1) if count exceeds its size."""
    start = offsets[s]
    size = offsets[s + 1] - start
    for i in range(size):
        out[i] = orders[start + i]
    if count > size:
        out[size] = size


@nb.njit(cache=True, nogil=True)
def _buffers(offsets):
    sizes = offsets[1:] - offsets[:-1]
    big = 1 + (sizes.max() if sizes.shape[0] > 0 else 0)
    return (np.empty(big * big), np.empty(big), np.empty(big), np.empty(big), np.empty(big), np.empty(big),
            np.empty(2 * big, dtype=np.int64), np.empty(2 * big), np.empty(big, dtype=np.int64),
            np.empty(big, dtype=np.int64))


@nb.njit(cache=True, nogil=True)
def pairwise_tile(w, X, totals, offsets, left, right, metric, phi_dim, R, p, norm, empty_fill, use_fill, max_iter,
                  values, codes):
    """W (no 1/p root) of packed jets (left[k], right[k]) into ``values[k]``, result code into ``codes[k]``.

    ``w`` ``(T,)``, ``X`` ``(T, gdim)``, ``totals`` and ``offsets`` as in :func:`pair_plan`.
    A pair with an empty jet gets ``empty_fill`` when ``use_fill``, otherwise (unnormalised)
    |ΣE − ΣE′|: all of the other jet's weight goes to the extra particle (cost 1 per unit).
    """
    C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf, parent, pflow, oa, ob = _buffers(offsets)
    orders = _jet_orders(X, offsets)
    for k in range(left.shape[0]):
        n, m, extra, tol, empty = _build(w, X, totals, offsets, left[k], right[k], metric, phi_dim, R, p, norm,
                                         C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf)
        if empty:
            values[k] = empty_fill if use_fill else extra
            codes[k] = OPTIMAL
            continue
        C = C_buffer[: n * m].reshape((n, m))
        _start_order(orders, offsets, left[k], n, oa)
        _start_order(orders, offsets, right[k], m, ob)
        cost, code, _ = _simplex(a_buf[:n], b_buf[:m], C, oa[:n], ob[:m], max_iter, tol, parent[: n + m], pflow[: n + m])
        values[k] = cost + extra
        codes[k] = code


@nb.njit(cache=True, nogil=True)
def pair_plan(w, X, totals, offsets, s, t, metric, phi_dim, R, p, norm, max_iter):
    """One pair s → t of packed jets, solved exactly as :func:`pairwise_tile` solves it.

    Returns ``(value, code, flow)``: the value (cost + extra term, no root; the same bits as the
    tile's), the result code, and the plan ``(n, m)`` over the jets' particles plus the extra
    particle's last row (jet s lighter) or column (jet t lighter) when unnormalised totals
    differ. An empty jet gives value |ΣE − ΣE′|, code 1 and a ``(0, 0)`` plan.
    """
    C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf, parent, pflow, oa, ob = _buffers(offsets)
    orders = _jet_orders(X, offsets)
    n, m, extra, tol, empty = _build(w, X, totals, offsets, s, t, metric, phi_dim, R, p, norm,
                                     C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf)
    if empty:
        return extra, OPTIMAL, np.zeros((0, 0))
    C = C_buffer[: n * m].reshape((n, m))
    _start_order(orders, offsets, s, n, oa)
    _start_order(orders, offsets, t, m, ob)
    cost, code, _ = _simplex(a_buf[:n], b_buf[:m], C, oa[:n], ob[:m], max_iter, tol, parent[: n + m], pflow[: n + m])
    return cost + extra, code, _tree_flow(parent, pflow, n, m)


@nb.njit(cache=True, nogil=True)
def pair_problem(w, X, totals, offsets, s, t, metric, phi_dim, R, p, norm):
    """The balanced problem ``(a (n,), b (m,), C (n, m), extra)`` of packed jets s → t, exactly as the solver sees it."""
    C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf, _parent, _pflow, _oa, _ob = _buffers(offsets)
    n, m, extra, _tol, empty = _build(w, X, totals, offsets, s, t, metric, phi_dim, R, p, norm,
                                      C_buffer, a_buf, b_buf, ka_buf, kb_buf, y_buf)
    if empty:
        return np.zeros(0), np.zeros(0), np.zeros((0, 0)), extra
    return a_buf[:n].copy(), b_buf[:m].copy(), C_buffer[: n * m].reshape((n, m)).copy(), extra
