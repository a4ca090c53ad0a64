using Xunit;

// The lab tests count this process's BPF fds and create namespaces; one test at a time keeps that exact
// (and the machine is shared: the tests are short either way).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
