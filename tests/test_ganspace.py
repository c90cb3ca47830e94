from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner
from PIL import Image

from gansteer import DirectionSet, GANSpace, GansteerError, Generator, apply_direction, traverse
from gansteer.cli import main
from gansteer.methods.ganspace import import_ganspace_npz
from gansteer.methods.streaming_pca import fit_pca, principal_cosines


def _planted_data(n=20_000, seed=0):
    """Gaussian rows with covariance V diag(s) V^T and a large mean (to catch cancellation in the covariance)."""
    g = np.random.default_rng(seed)
    V = np.linalg.qr(g.standard_normal((6, 6)))[0]
    s = np.array([9.0, 4.0, 2.0, 1.0, 0.5, 0.25])
    x = g.standard_normal((n, 6)) * np.sqrt(s) @ V.T + 1000.0
    return x, V, s


def test_exact_estimator_recovers_planted_covariance():
    x, V, s = _planted_data()
    pca = fit_pca(lambda: iter(np.array_split(x, 7)), 3, estimator="exact")
    # exactly the sample covariance's eigenvectors (streaming, shifting and float64 lose nothing)...
    values, vectors = np.linalg.eigh(np.cov(x.T))
    np.testing.assert_allclose(np.abs(pca.components @ vectors[:, ::-1][:, :3]), np.eye(3), atol=1e-9)
    np.testing.assert_allclose(pca.std**2, values[::-1][:3], rtol=1e-9)
    np.testing.assert_allclose(pca.mean, x.mean(0), rtol=1e-12)
    # ...which are the planted axes up to sampling noise
    assert np.abs(pca.components @ V[:, :3]).diagonal().min() > 0.995
    np.testing.assert_allclose(pca.ratio, s[:3] / s.sum(), rtol=0.05)
    c = pca.components  # sign rule: the largest-|x| entry of each component is positive
    assert (c[np.arange(3), np.abs(c).argmax(1)] > 0).all()


@pytest.mark.parametrize(("estimator", "tol"), [("randomized", 1e-6), ("incremental", 5e-3)])
def test_streaming_estimators_agree_with_exact(estimator, tol):
    x, _, _ = _planted_data(5000, seed=1)
    exact = fit_pca(lambda: iter(np.array_split(x, 5)), 3, estimator="exact")
    other = fit_pca(lambda: iter(np.array_split(x, 5)), 3, estimator=estimator)  # IPCA truncates at each step
    assert principal_cosines(exact.components, other.components).min() > 1 - tol**2
    np.testing.assert_allclose(other.std, exact.std, rtol=tol)
    np.testing.assert_allclose(other.components, exact.components, atol=tol)  # same sign rule


def test_ica_and_sparse_estimators():
    """ICA unmixes independent uniform sources mixed by an orthogonal V; both sort components by explained std."""
    g = np.random.default_rng(2)
    V = np.linalg.qr(g.standard_normal((4, 4)))[0]
    x = g.uniform(-1, 1, (4000, 4)) * np.array([4.0, 3.0, 2.0, 1.0]) @ V.T + 7.0
    ica = fit_pca(lambda: iter(np.array_split(x, 4)), 4, estimator="ica")
    np.testing.assert_allclose(np.abs(ica.components @ V), np.eye(4), atol=0.06)
    np.testing.assert_allclose(ica.ratio, np.array([16, 9, 4, 1]) / 30, rtol=0.05)
    sparse = fit_pca(lambda: iter(np.array_split(x, 4)), 2, estimator="sparse", sparsity=0.1)
    assert sparse.components.shape == (2, 4) and (np.diff(sparse.std) <= 0).all()
    np.testing.assert_allclose(np.linalg.norm(sparse.components, axis=1), 1.0)
    np.testing.assert_allclose(sparse.mean, x.mean(0))


def test_activation_pca_regression_moves_features_along_axes(tiny):
    m = GANSpace(k=4, n=4000, layer="block0", batch_size=1000).fit(tiny, progress=False)
    ds = m.directions()
    assert ds.vectors.shape == (4, 8) and ds.space == "z" and ds.params["layer"] == "block0"
    comps, mean, std = (ds.tensors[n].double() for n in ("components", "mean", "std"))
    assert comps.shape == (4, 16 * 16) and torch.allclose(comps @ comps.T, torch.eye(4, dtype=torch.float64),
                                                          atol=1e-5)
    z = tiny.sample_latent(500, generator=torch.Generator().manual_seed(123))

    def coords(latent):  # PCA coordinates of the block0 features, in units of each component's std
        return ((tiny.features(latent, "block0").flatten(1).double() - mean) @ comps.T) / std

    for i in range(4):
        moved = coords(ds.shift(z, i, 1.0)) - coords(z)  # (500, 4)
        mean_move = moved.mean(0)
        assert mean_move[i] > 0.3  # the edit raises its own coordinate...
        others = torch.cat([mean_move[:i], mean_move[i + 1:]]).abs()
        assert mean_move[i] > 3 * others.max()  # ...far more than any other PCA coordinate
    # latents are isotropic: the recommended range is ±2 std ~ ±2 along every unit direction
    torch.testing.assert_close(ds.shift_range[:, 1], 2 * ds.tensors["latent_std"])
    assert ((ds.tensors["latent_std"] - 1).abs() < 0.05).all()
    torch.testing.assert_close(ds.vectors.norm(dim=1), torch.ones(4))


def test_latent_pca_in_z_warns(tiny):
    with pytest.warns(UserWarning, match="isotropic Gaussian.*activation PCA \\(layer='block0'\\)"):
        ds = GANSpace(k=3, n=2000, layer="latent").fit(tiny, progress=False).directions()
    assert ds.params["layer"] == "latent" and ds.vectors.shape == (3, 8)
    with pytest.warns(UserWarning, match="k=9 exceeds the latent dimension 8 of 'dcgan-tiny'"):
        GANSpace(k=9, n=500, batch_size=250).fit(tiny, progress=False)


class _Styled(Generator):
    """w = L z + b (a planted W covariance L L^T) and three layers, image row i showing what layer i received."""

    name, latent_dim, num_layers, resolution, channels, spaces = "styled", 4, 3, 3, 1, ("z", "w")

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("L", torch.randn(4, 4, generator=g) @ torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5])))

    def map_latent(self, z, space):
        if space in ("w", "w+"):
            w = z @ self.L.T + 5.0
            return self.expand_layers(w, "w") if space == "w+" else w
        return super().map_latent(z, space)

    def synthesize(self, latent, *, space, cond):
        rows = latent if space.endswith("+") else self.expand_layers(self.map_latent(latent, "w") if space == "z"
                                                                     else latent, "w")
        return rows.sum(-1)[:, None, :, None].expand(-1, 1, 3, 3)  # image row i = sum of layer i's input


def test_w_pca_layerwise_edit_leaves_other_layers_unchanged():
    G = _Styled()
    m = GANSpace(k=2, n=20_000, space="w", layers=(0, 2), batch_size=5000).fit(G, progress=False)
    ds = m.directions()
    assert m.layer_ == "latent" and ds.space == "w" and ds.layers == (0, 2)
    cov = (G.L @ G.L.T).double()  # planted W covariance: its top eigenvectors are the components
    values, vectors = torch.linalg.eigh(cov)
    assert (ds.vectors.double() @ vectors[:, [-1, -2]]).abs().diagonal().min() > 0.999
    torch.testing.assert_close(ds.tensors["latent_std"].double(), values[[-1, -2]].sqrt(), rtol=0.03, atol=0)

    w = G.sample_latent(2, generator=torch.Generator().manual_seed(5), space="w")
    moved, space = apply_direction(G, w, ds, 0, 1.5)  # the set's own range: layers 0 and 1
    assert space == "w+"
    torch.testing.assert_close(moved[:, 2], w)  # layer 2's input untouched
    torch.testing.assert_close(moved[:, :2], (w + 1.5 * ds.vectors[0]).unsqueeze(1).expand(-1, 2, -1))
    images = traverse(G, ds, [0], [0.0, 1.5], latents=w)  # (1, 2, 2, 1, 3, 3)
    assert torch.equal(images[0, :, 0, 0, 2], images[0, :, 1, 0, 2])  # image row of layer 2: same
    assert (images[0, :, 0, 0, :2] - images[0, :, 1, 0, :2]).abs().min() > 1e-3  # rows of layers 0-1: moved


@pytest.mark.filterwarnings("ignore:latent PCA in z")
def test_bad_input_one_line_errors(tiny):
    with pytest.raises(GansteerError, match="^unknown layer 'nope' of generator 'dcgan-tiny'; expected one of: "
                                            "block0, block1, image$"):
        GANSpace(layer="nope").fit(tiny)
    with pytest.raises(GansteerError, match="single layer: layer ranges do not apply"):
        GANSpace(layers=(0, 1)).fit(tiny)
    with pytest.raises(GansteerError, match="layer range 1-3 is invalid; expected within 0-2"):
        GANSpace(layers=(1, 4), space="w").fit(_Styled())
    with pytest.raises(GansteerError, match="estimator 'svd' is unknown"):
        GANSpace(estimator="svd")
    with pytest.raises(GansteerError, match="space 'w' is not offered"):
        GANSpace(space="w").fit(tiny)
    with pytest.raises(GansteerError, match="k=9 exceeds the data dimension 8"):
        GANSpace(k=9, layer="latent").fit(tiny, progress=False)


def test_npz_import_round_trip(tiny, tmp_path):
    """A file in the reference's layout (shapes as its decomposition.py saves them) -> DirectionSet -> file."""
    ds = GANSpace(k=3, n=2000, batch_size=500).fit(tiny, progress=False).directions()
    path = tmp_path / "dcgan-tiny-none_block0_ipca_c3_n2000_w.npz"
    np.savez_compressed(path, act_comp=ds.tensors["components"].reshape(3, 1, 16, 4, 4).numpy(),
                        act_mean=ds.tensors["mean"].reshape(1, 16, 4, 4).numpy(),
                        act_stdev=ds.tensors["std"].numpy(), lat_comp=(2 * ds.vectors).reshape(3, 1, 8).numpy(),
                        lat_mean=ds.tensors["latent_mean"].reshape(1, 8).numpy(),
                        lat_stdev=ds.tensors["latent_std"].numpy(),
                        var_ratio=ds.tensors["explained_variance_ratio"].numpy(), random_stdevs=np.ones(3, np.float32))
    imported = import_ganspace_npz(path, generator="dcgan-tiny")
    assert imported.space == "w"  # the reference's `_w` file-name suffix
    torch.testing.assert_close(imported.vectors, ds.vectors)  # lat_comp rows renormalised
    torch.testing.assert_close(imported.shift_range, ds.shift_range)
    for name in ("explained_variance_ratio", "std", "latent_std", "latent_mean", "eigenvalues"):
        torch.testing.assert_close(imported.tensors[name], ds.tensors[name])
    out = tmp_path / "imported.safetensors"
    r = CliRunner().invoke(main, ["convert", "ganspace-npz", str(path), "-o", str(out), "--space", "z",
                                  "--sigma", "3"])
    assert r.exit_code == 0, r.output
    back = DirectionSet.load(out)
    assert back.space == "z" and back.method == "ganspace"
    torch.testing.assert_close(back.vectors, ds.vectors)
    torch.testing.assert_close(back.shift_range, 1.5 * ds.shift_range)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    r = CliRunner().invoke(main, ["convert", "ganspace-npz", str(tmp_path / "other.npz"), "-o", str(out)])
    assert r.exit_code == 1 and "not a ganspace component file; missing lat_comp, lat_stdev (has x)" in r.output
    assert "Traceback" not in r.output


def test_cli_discover_with_plot(tmp_path):
    out = tmp_path / "gs.safetensors"
    r = CliRunner().invoke(main, ["discover", "ganspace", "-g", "dcgan-tiny", "-k", "4", "-n", "2000", "-q",
                                  "--layer", "block1", "--estimator", "exact", "-o", str(out), "--plot"])
    assert r.exit_code == 0, r.output
    assert "activation PCA at block1 + regression, exact estimator, 2000 samples" in r.output
    ds = DirectionSet.load(out)
    assert ds.vectors.shape == (4, 8) and ds.params["estimator"] == "exact" and ds.params["k"] == 4
    png = tmp_path / "gs_variance.png"
    assert Image.open(png).size == (770, 396)
    r = CliRunner().invoke(main, ["discover", "ganspace", "-g", "stylegan2-tiny", "--space", "w", "--layers", "0-2",
                                  "-k", "3", "-n", "1000", "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ds = DirectionSet.load(out)
    assert "latent PCA, exact estimator" in r.output and ds.space == "w" and ds.layers == (0, 3)
    r = CliRunner().invoke(main, ["discover", "ganspace", "-g", "dcgan-tiny", "--layer", "nope", "-o", str(out)])
    assert r.exit_code == 1 and r.output.count("Error") == 1
    assert "unknown layer 'nope' of generator 'dcgan-tiny'; expected one of: block0, block1, image" in r.output


def _sharded_worker(rank, world, init_file, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    from gansteer import load_generator

    G = load_generator("dcgan-tiny")
    for estimator in ("exact", "randomized"):
        ds = GANSpace(k=3, n=1000, batch_size=128, estimator=estimator).fit(G, progress=False).directions()
        if rank == 0:
            ds.save(f"{out_dir}/{estimator}.safetensors")
    dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes importing torch: ~15-25 s on the shared machine
def test_sharded_equals_single_process(tiny, tmp_path):
    mp.spawn(_sharded_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for estimator in ("exact", "randomized"):
        single = GANSpace(k=3, n=1000, batch_size=128, estimator=estimator).fit(tiny, progress=False).directions()
        sharded = DirectionSet.load(tmp_path / f"{estimator}.safetensors")
        torch.testing.assert_close(sharded.vectors, single.vectors, atol=1e-5, rtol=0)
        for name in ("explained_variance_ratio", "std", "latent_std", "components", "mean"):
            torch.testing.assert_close(sharded.tensors[name], single.tensors[name], atol=1e-5, rtol=1e-5)
