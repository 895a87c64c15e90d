using Skiff.Linux;

namespace Skiff.Cgroups;

/// <summary>
/// cgroup v2 has no devices.allow/deny files: access is decided by an eBPF program of type
/// CGROUP_DEVICE attached to the cgroup. This builds that program from the same rules the v1 controller
/// takes, with v1's semantics: the last matching rule decides, and nothing matching means deny.
/// </summary>
public static class DeviceFilter
{
    // bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major, u32 minor.
    private const byte LdxW = 0x61, And64K = 0x57, Rsh64K = 0x77, Mov64K = 0xb7, Mov64X = 0xbf,
        JneK = 0x55, Exit = 0x95;
    private const int DevBlock = 1, DevChar = 2, AccMknod = 1, AccRead = 2, AccWrite = 4;

    private static ulong Insn(byte op, int dst, int src, short off, int imm) =>
        op | ((ulong)(byte)((src << 4) | dst) << 8) | ((ulong)(ushort)off << 16) | ((ulong)(uint)imm << 32);

    /// <summary>The program's instructions for <paramref name="rules"/>.</summary>
    public static ulong[] Build(IReadOnlyList<DeviceRule> rules)
    {
        var code = new List<ulong>
        {
            Insn(LdxW, 2, 1, 0, 0), Insn(And64K, 2, 0, 0, 0xFFFF),   // r2 = type
            Insn(LdxW, 3, 1, 0, 0), Insn(Rsh64K, 3, 0, 0, 16),       // r3 = requested access
            Insn(LdxW, 4, 1, 4, 0),                                  // r4 = major
            Insn(LdxW, 5, 1, 8, 0),                                  // r5 = minor
        };
        // Emitted last rule first and returning on the first match: the last matching rule wins.
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            DeviceRule r = rules[i];
            var checks = new List<(byte Op, int Dst, int Src, int Imm, bool NeedsMask)>();
            if (r.Type is 'c' or 'b') checks.Add((JneK, 2, 0, r.Type == 'c' ? DevChar : DevBlock, false));
            int access = (r.Access.Contains('m') ? AccMknod : 0) | (r.Access.Contains('r') ? AccRead : 0) | (r.Access.Contains('w') ? AccWrite : 0);
            if (r.Type != 'a' && access != (AccMknod | AccRead | AccWrite)) checks.Add((JneK, 1, 0, 0, true));
            if (r.Type != 'a' && r.Major is { } major) checks.Add((JneK, 4, 0, (int)major, false));
            if (r.Type != 'a' && r.Minor is { } minor) checks.Add((JneK, 5, 0, (int)minor, false));
            int blockLength = checks.Sum(c => c.NeedsMask ? 3 : 1) + 2;
            int emitted = 0;
            foreach (var c in checks)
            {
                if (c.NeedsMask)
                {
                    code.Add(Insn(Mov64X, 1, 3, 0, 0));
                    code.Add(Insn(And64K, 1, 0, 0, ~access & 0x7));
                    emitted += 2;
                }
                emitted++;
                code.Add(Insn(JneK, c.Dst, 0, (short)(blockLength - emitted), c.Imm));
            }
            code.Add(Insn(Mov64K, 0, 0, 0, r.Allow ? 1 : 0));
            code.Add(Insn(Exit, 0, 0, 0, 0));
            // A rule matching every device ends the program: the verifier rejects unreachable code.
            if (checks.Count == 0) return [.. code];
        }
        code.Add(Insn(Mov64K, 0, 0, 0, 0));
        code.Add(Insn(Exit, 0, 0, 0, 0));
        return [.. code];
    }

    /// <summary>Loads the program for <paramref name="rules"/> and attaches it to the cgroup directory <paramref name="cgroupDir"/>.</summary>
    public static void Attach(string cgroupDir, IReadOnlyList<DeviceRule> rules)
    {
        int prog = Libc.BpfProgLoad(Libc.BPF_PROG_TYPE_CGROUP_DEVICE, Build(rules), "Apache");
        try
        {
            int dir = LinuxException.ThrowIfError(Libc.open(cgroupDir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0), "open", cgroupDir);
            try { Libc.BpfProgAttach(dir, prog, Libc.BPF_CGROUP_DEVICE, Libc.BPF_F_ALLOW_MULTI); }
            finally { Libc.close(dir); }
        }
        finally { Libc.close(prog); }
    }
}
