import CKernels
print("threads: \(ck_get_num_threads())")
