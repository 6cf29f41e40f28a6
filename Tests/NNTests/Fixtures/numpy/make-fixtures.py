# Writes the small .npy/.npz fixtures NumPyTests reads (run once with numpy; the outputs are
# committed so the tests need no Python). Values: arange-based, so the tests can recompute them.
import numpy as np

a = np.arange(12).reshape(3, 4)
for dt in ["<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", ">f4", ">f8", ">i4", ">u2"]:
    name = dt.replace("<", "le-").replace(">", "be-").replace("|", "")
    np.save(f"{name}.npy", (a - (0 if dt[1] == "u" else 5)).astype(np.dtype(dt)))
np.save("bool.npy", (a % 3 == 0))
np.save("fortran-f4.npy", np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)))
np.save("scalar-f8.npy", np.float64(2.5))
np.save("empty-f4.npy", np.zeros((0, 3), dtype="<f4"))
np.lib.format.write_array(open("v2-f4.npy", "wb"), np.arange(6, dtype="<f4").reshape(2, 3), version=(2, 0))
np.lib.format.write_array(open("v3-f4.npy", "wb"), np.arange(6, dtype="<f4").reshape(2, 3), version=(3, 0))
np.save("complex.npy", np.arange(3, dtype=np.complex64))
np.save("f2.npy", np.arange(3, dtype=np.float16))
np.savez("stored.npz", x=np.arange(6, dtype="<f4").reshape(3, 2), y=np.array([0, 1, 1], dtype="<i8"))
np.savez_compressed("deflated.npz", x=np.arange(6, dtype="<f4").reshape(3, 2), y=np.array([0, 1, 1], dtype="<i8"))
