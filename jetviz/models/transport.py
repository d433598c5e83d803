"""Exact discrete optimal transport: a network simplex for the transportation problem, compiled with numba.

Solves, for supplies ``a`` ``(n,)`` > 0 and demands ``b`` ``(m,)`` > 0 of equal sums and a cost
matrix ``C`` ``(n, m)``,

    min_f Σ_ij f_ij C_ij,   f_ij ≥ 0,  Σ_j f_ij = a_i,  Σ_i f_ij = b_j,

exactly (to floating-point rounding): the answer is a basic optimal solution, proven optimal
by its dual potentials (every reduced cost C_ij − u_i − v_j ≥ −tol, tol = 1e-12 · max |C|).

It is the same primal network simplex as POT's ``emd_c`` and the ``wasserstein`` package
(both adapted from LEMON), specialised to the uncapacitated bipartite case, with two
differences that matter for jets of ~10–200 particles:

* **Start.** LEMON starts from an artificial basis (all flow through a virtual root), and
  most of its pivots only build a first feasible tree. Here the start is the north-west
  corner rule on both point sets *sorted by η*, which is the optimal transport plan of the
  jets' η projections: a feasible spanning tree that is already close to optimal.
* **No Python per pair.** :func:`pairwise_tile` computes the cost matrices and solves a whole
  tile of pairs in one compiled call that releases the GIL, so tiles run in threads.

Pivoting uses block search (blocks of √(nm) arcs, the most negative reduced cost of the first
block that has one) and Cunningham's last-blocking-arc rule for the leaving arc. If the
iteration limit is reached the result code is 3 and the caller decides (:mod:`jetviz.models.emd`
then re-solves that pair with POT).

Compilation (a few seconds) happens on first use and is cached on disk by numba.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["transport", "pairwise_tile", "OPTIMAL", "MAX_ITER_REACHED"]

#: Result codes (POT's): 1 = optimal, 3 = iteration limit reached.
OPTIMAL = 1
MAX_ITER_REACHED = 3

_TWO_PI = 2.0 * math.pi


@nb.njit(cache=True, nogil=True, inline="always")
def _add_child(first_child, next_sib, prev_sib, parent_node, child):
    head = first_child[parent_node]
    next_sib[child] = head
    prev_sib[child] = -1
    if head >= 0:
        prev_sib[head] = child
    first_child[parent_node] = child


@nb.njit(cache=True, nogil=True, inline="always")
def _remove_child(first_child, next_sib, prev_sib, parent_node, child):
    before = prev_sib[child]
    after = next_sib[child]
    if before >= 0:
        next_sib[before] = after
    else:
        first_child[parent_node] = after
    if after >= 0:
        prev_sib[after] = before


@nb.njit(cache=True, nogil=True)
def _network_simplex(a, b, C, order_a, order_b, max_iter, parent, pflow):
    """Solve one transportation problem; fills the basis tree, returns (cost, code, pivots).

    Nodes 0..n-1 are the sources (rows of C), n..n+m-1 the sinks (columns). The basis is the
    tree ``parent`` ``(n+m,)`` (−1 at the root); the tree arc between node k and parent[k] is the
    cell (row, column) of those two nodes and carries the flow ``pflow[k]``.
    """
    n = a.shape[0]
    m = b.shape[0]
    N = n + m
    pot = np.zeros(N)  # u_i at i, v_j at n + j: C_ij = u_i + v_j on tree arcs
    vpot = pot[n:]  # the sinks' potentials v_j (a view)
    depth = np.zeros(N, dtype=np.int64)
    first_child = np.full(N, -1, dtype=np.int64)
    next_sib = np.full(N, -1, dtype=np.int64)
    prev_sib = np.full(N, -1, dtype=np.int64)

    # ---- start: north-west corner on the sorted point sets (a staircase = a spanning tree)
    ia = 0
    jb = 0
    row = order_a[0]
    col = order_b[0]
    ra = a[row]
    rb = b[col]
    root = row
    parent[root] = -1
    pot[root] = 0.0
    depth[root] = 0
    # the first cell brings in the first sink
    parent[n + col] = row
    pot[n + col] = C[row, col]
    depth[n + col] = 1
    _add_child(first_child, next_sib, prev_sib, row, n + col)
    x = ra if ra < rb else rb
    pflow[n + col] = x
    ra -= x
    rb -= x
    for _ in range(N - 2):
        if (ra <= rb and ia < n - 1) or jb == m - 1:
            ia += 1  # next source, joined to the current sink
            row = order_a[ia]
            ra = a[row]
            parent[row] = n + col
            pot[row] = C[row, col] - pot[n + col]
            depth[row] = depth[n + col] + 1
            _add_child(first_child, next_sib, prev_sib, n + col, row)
            x = ra if ra < rb else rb
            pflow[row] = x
        else:
            jb += 1  # next sink, joined to the current source
            col = order_b[jb]
            rb = b[col]
            parent[n + col] = row
            pot[n + col] = C[row, col] - pot[row]
            depth[n + col] = depth[row] + 1
            _add_child(first_child, next_sib, prev_sib, row, n + col)
            x = ra if ra < rb else rb
            pflow[n + col] = x
        ra -= x
        rb -= x

    cmax = 0.0
    for i in range(n):
        for j in range(m):
            c = abs(C[i, j])
            if c > cmax:
                cmax = c
    tol = 1e-12 * cmax if cmax > 0 else 1e-300
    total = n * m
    rows_per_block = max(1, int(math.sqrt(total)) // m)
    next_i = 0
    stack = np.empty(N, dtype=np.int64)
    path = np.empty(N, dtype=np.int64)
    pivots = 0
    code = OPTIMAL
    while True:
        # ---- pricing: block search for an arc of negative reduced cost, whole rows at a time
        best = -tol
        in_i = -1
        in_j = -1
        i = next_i
        for scanned in range(1, n + 1):
            ui = pot[i]
            row_cost = C[i]
            for j in range(m):
                r = row_cost[j] - ui - vpot[j]
                if r < best:
                    best = r
                    in_i = i
                    in_j = j
            i += 1
            if i == n:
                i = 0
            if in_i >= 0 and scanned % rows_per_block == 0:
                break
        if in_i < 0:
            break  # optimal
        if pivots >= max_iter:
            code = MAX_ITER_REACHED
            break
        pivots += 1
        next_i = i
        p = in_i
        q = n + in_j
        # ---- apex of the cycle p -> q -> (tree path) -> p
        u = p
        w = q
        while u != w:
            if depth[u] > depth[w]:
                u = parent[u]
            elif depth[w] > depth[u]:
                w = parent[w]
            else:
                u = parent[u]
                w = parent[w]
        apex = u
        # ---- leaving arc: the last blocking arc from the apex along the cycle's orientation
        # (p side scanned from p with <, then q side from q with <=: the q side wins ties)
        theta = np.inf
        out = -1
        k = p
        while k != apex:
            if k < n and pflow[k] < theta:  # p side: arcs at sources carry -theta
                theta = pflow[k]
                out = k
            k = parent[k]
        out_on_q = False
        k = q
        while k != apex:
            if k >= n and pflow[k] <= theta:  # q side: arcs at sinks carry -theta
                theta = pflow[k]
                out = k
                out_on_q = True
            k = parent[k]
        # ---- change the flows around the cycle
        if theta > 0:
            k = p
            while k != apex:
                if k < n:
                    pflow[k] -= theta
                else:
                    pflow[k] += theta
                k = parent[k]
            k = q
            while k != apex:
                if k >= n:
                    pflow[k] -= theta
                else:
                    pflow[k] += theta
                k = parent[k]
        # ---- swap the arcs: re-root the cut-off subtree at the entering arc's end inside it
        if out_on_q:
            x_in = q
            y_in = p
        else:
            x_in = p
            y_in = q
        length = 0
        k = x_in
        path[0] = k
        while k != out:
            k = parent[k]
            length += 1
            path[length] = k
        _remove_child(first_child, next_sib, prev_sib, parent[out], out)
        for l in range(length - 1, -1, -1):
            child = path[l]
            upper = path[l + 1]
            _remove_child(first_child, next_sib, prev_sib, upper, child)
            parent[upper] = child
            pflow[upper] = pflow[child]
            _add_child(first_child, next_sib, prev_sib, child, upper)
        parent[x_in] = y_in
        pflow[x_in] = theta
        _add_child(first_child, next_sib, prev_sib, y_in, x_in)
        # ---- potentials and depths of the moved subtree
        same = best if x_in < n else -best  # sources of the subtree shift by `same`
        top = 0
        stack[0] = x_in
        while top >= 0:
            k = stack[top]
            top -= 1
            depth[k] = depth[parent[k]] + 1
            if k < n:
                pot[k] += same
            else:
                pot[k] -= same
            c = first_child[k]
            while c >= 0:
                top += 1
                stack[top] = c
                c = next_sib[c]
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
def _solve(a, b, C, eta_a, eta_b, max_iter):
    n = a.shape[0]
    m = b.shape[0]
    parent = np.empty(n + m, dtype=np.int64)
    pflow = np.zeros(n + m)
    cost, code, pivots = _network_simplex(a, b, C, np.argsort(eta_a), np.argsort(eta_b), max_iter, parent, pflow)
    flow = np.zeros((n, m))
    for k in range(n + m):
        par = parent[k]
        if par >= 0:
            if k < n:
                flow[k, par - n] += pflow[k]
            else:
                flow[par, k - n] += pflow[k]
    return flow, cost, code, pivots


def transport(a, b, cost, max_iter: int = 10_000_000, eta_a=None, eta_b=None):
    """Exact optimal transport between ``a`` ``(n,)`` and ``b`` ``(m,)`` of equal sums on ``cost`` ``(n, m)``.

    Arguments:
        a, b: supplies and demands (float64, > 0; their sums must agree to rounding).
        cost: ``(n, m)`` cost of moving one unit of weight from i to j.
        max_iter: pivot limit.
        eta_a, eta_b: ``(n,)``, ``(m,)`` 1-d positions used to order the start (the η of the
            particles for jets); the index order when not given.
    Returns:
        ``(flow (n, m), total cost, result code, pivots)``; code 1 = optimal, 3 = limit reached.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    C = np.ascontiguousarray(cost, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or C.shape != (len(a), len(b)) or len(a) == 0 or len(b) == 0:
        raise ValueError(f"need a (n,), b (m,) and cost (n, m) with n, m ≥ 1, got {a.shape}, {b.shape}, {C.shape}")
    ea = np.arange(len(a), dtype=np.float64) if eta_a is None else np.ascontiguousarray(eta_a, dtype=np.float64)
    eb = np.arange(len(b), dtype=np.float64) if eta_b is None else np.ascontiguousarray(eta_b, dtype=np.float64)
    flow, value, code, pivots = _solve(a, b, C, ea, eb, int(max_iter))
    return flow, float(value), int(code), int(pivots)


@nb.njit(cache=True, nogil=True)
def pairwise_tile(weights, eta, phi, totals, offsets, left, right, R, p, norm, periodic, max_iter, values, codes):
    """W for the pairs (left[k], right[k]) of packed jets, into ``values[k]`` (code into ``codes[k]``).

    Jets are packed: jet t holds particles offsets[t]:offsets[t+1] of ``weights`` (> 0, already
    divided by the jet's total when ``norm``), ``eta``, ``phi`` (wrapped into (−π, π] when
    ``periodic``); ``totals`` ``(T,)`` are the raw sums. The unnormalised problem gets one extra
    particle of weight |ΣE − ΣE′| on the lighter side at zero cost, and |ΣE − ΣE′| is added to
    the value (no 1/p root is taken).
    """
    sizes = offsets[1:] - offsets[:-1]
    big = 1 + (sizes.max() if sizes.shape[0] > 0 else 0)
    C_buffer = np.empty(big * big)
    a_buffer = np.empty(big)
    b_buffer = np.empty(big)
    ea_buffer = np.empty(big)
    eb_buffer = np.empty(big)
    parent = np.empty(2 * big, dtype=np.int64)
    pflow = np.empty(2 * big)
    inv_r2 = 1.0 / (R * R)
    for k in range(left.shape[0]):
        s = left[k]
        t = right[k]
        sa = offsets[s]
        na = offsets[s + 1] - sa
        sb = offsets[t]
        nb_ = offsets[t + 1] - sb
        extra = 0.0
        n = na
        m = nb_
        diff = 0.0
        if not norm:
            diff = totals[t] - totals[s]
            if diff > 0:
                n = na + 1
            elif diff < 0:
                m = nb_ + 1
            extra = abs(diff)
        C = C_buffer[: n * m].reshape((n, m))
        suma = 0.0
        for i in range(na):
            a_buffer[i] = weights[sa + i]
            ea_buffer[i] = eta[sa + i]
            suma += weights[sa + i]
        sumb = 0.0
        for j in range(nb_):
            b_buffer[j] = weights[sb + j]
            eb_buffer[j] = eta[sb + j]
            sumb += weights[sb + j]
        for i in range(na):
            e1 = eta[sa + i]
            f1 = phi[sa + i]
            for j in range(nb_):
                de = e1 - eta[sb + j]
                df = abs(f1 - phi[sb + j])
                if periodic and df > math.pi:
                    df = _TWO_PI - df
                d2 = (de * de + df * df) * inv_r2
                if p == 1.0:
                    C[i, j] = math.sqrt(d2)
                elif p == 2.0:
                    C[i, j] = d2
                else:
                    C[i, j] = d2 ** (0.5 * p)
            if m > nb_:
                C[i, nb_] = 0.0
        if n > na:
            for j in range(m):
                C[na, j] = 0.0
            a_buffer[na] = diff
            ea_buffer[na] = np.inf  # the extra particle comes last in the start
            suma += diff
        if m > nb_:
            b_buffer[nb_] = -diff
            eb_buffer[nb_] = np.inf
            sumb += -diff
        a = a_buffer[:n]
        b = b_buffer[:m].copy()
        scale = suma / sumb  # equal masses to the last bit, as ot.emd does
        for j in range(m):
            b[j] *= scale
        cost, code, _ = _network_simplex(a, b, C, np.argsort(ea_buffer[:n]), np.argsort(eb_buffer[:m]), max_iter,
                                         parent[: n + m], pflow[: n + m])
        values[k] = cost + extra
        codes[k] = code
