/**
 * Newton-Schulz orthogonalisation as in Muon (Jordan et al. 2024; used as ATLAS's inner
 * optimiser): five quintic iterations X <- a X + (b A + c A^2) X with A = X X^T and
 * (a, b, c) = (3.4445, -4.7750, 2.0315), after scaling X to unit Frobenius norm. The result
 * approximates U V^T of the SVD (singular values pushed into about [0.7, 1.2]).
 * Works on batches [..., m, n]; tall matrices are transposed so A is the smaller Gram matrix.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";

export function newtonSchulz(G: Tensor, steps = 5): Tensor {
  const [m, n] = G.shape.slice(-2);
  const tall = m > n;
  let X = tall ? T.transpose(G, -1, -2) : G;
  const norm = T.sqrt(T.add(T.sum(T.square(X), [-2, -1], { keepdims: true }), 1e-14));
  X = T.div(X, T.add(norm, 1e-7));
  for (let i = 0; i < steps; i++) {
    const A = T.matmul(X, T.transpose(X, -1, -2));
    const B = T.add(T.mul(A, -4.775), T.mul(T.matmul(A, A), 2.0315));
    X = T.add(T.mul(X, 3.4445), T.matmul(B, X));
  }
  return tall ? T.transpose(X, -1, -2) : X;
}
