using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Seccomp;

/// <summary>
/// Compiles an OCI <c>linux.seccomp</c> section into a classic BPF program for x86_64, the way
/// libseccomp would for a single architecture:
/// <list type="bullet">
/// <item>x86_64 and, when the profile lists SCMP_ARCH_X86, i386 each get their own section with their own syscall
/// numbers; x32 and other architectures get the default action;</item>
/// <item>each listed syscall gets a block: argument-conditional rules first (all conditions of a rule must hold),
/// then the unconditional rule, then the default action;</item>
/// <item>numbers beyond <see cref="SyscallTable.MaxKnown"/> return ENOSYS when the default action is an errno,
/// so programs probing for syscalls newer than the profile fall back instead of failing with EPERM.</item>
/// </list>
/// Syscall names this table does not know are skipped, as libseccomp skips names it cannot resolve.
/// </summary>
public static class SeccompCompiler
{
    private const ushort LdAbs = 0x20, JeqK = 0x15, JgeK = 0x35, JgtK = 0x25, AndK = 0x54, Ret = 0x06;
    private const uint AuditArchX86_64 = 0xC000003E, AuditArchI386 = 0x40000003;
    private const ushort Ja = 0x05;
    private const uint RetKillProcess = 0x80000000, RetKillThread = 0, RetTrap = 0x00030000, RetErrno = 0x00050000,
        RetTrace = 0x7ff00000, RetLog = 0x7ffc0000, RetAllow = 0x7fff0000;
    private const uint ENOSYS = 38, EPERM = 1;

    public static Libc.SockFilter[] Compile(OciSeccomp profile)
    {
        uint defaultRet = ActionValue(profile.DefaultAction, profile.DefaultErrnoRet, profile.DefaultErrnoRet ?? EPERM);
        bool withI386 = profile.Architectures?.Contains("SCMP_ARCH_X86") == true;
        var asm = new Assembler();
        int i386Section = asm.NewLabel();

        // Jumps are 8-bit, so early exits return in place and the i386 section is reached with a long JA.
        int archOk = asm.NewLabel(), nativeAbi = asm.NewLabel();
        asm.Emit(LdAbs, 4);
        asm.Jump(JeqK, AuditArchX86_64, archOk, Assembler.Next);
        if (withI386) asm.JumpAlways(i386Section);
        else asm.Emit(Ret, defaultRet);
        asm.Mark(archOk);
        asm.Emit(LdAbs, 0);
        asm.Jump(JgeK, 0x40000000, Assembler.Next, nativeAbi);
        asm.Emit(Ret, defaultRet);
        asm.Mark(nativeAbi);
        EmitSection(asm, profile, SyscallTable.X86_64, defaultRet);

        if (withI386)
        {
            int i386Ok = asm.NewLabel();
            asm.Mark(i386Section);
            asm.Jump(JeqK, AuditArchI386, i386Ok, Assembler.Next);
            asm.Emit(Ret, defaultRet);
            asm.Mark(i386Ok);
            asm.Emit(LdAbs, 0);
            EmitSection(asm, profile, SyscallTable.I386, defaultRet);
        }
        return asm.Build();
    }

    /// <summary>The per-syscall blocks for one architecture's numbers, with the nr loaded in A; always ends in a return.</summary>
    private static void EmitSection(Assembler asm, OciSeccomp profile, Dictionary<string, int> table, uint defaultRet)
    {
        var groups = new SortedDictionary<int, List<OciSyscall>>();
        foreach (OciSyscall rule in profile.Syscalls ?? [])
            foreach (string name in rule.Names)
                if (table.TryGetValue(name, out int nr))
                {
                    if (!groups.TryGetValue(nr, out var list)) groups[nr] = list = [];
                    list.Add(rule);
                }

        foreach (var (nr, rules) in groups)
        {
            int nextGroup = asm.NewLabel();
            asm.Jump(JeqK, (uint)nr, Assembler.Next, nextGroup);
            foreach (OciSyscall rule in rules.Where(r => r.Args is { Count: > 0 }))
            {
                int nextRule = asm.NewLabel();
                foreach (OciSyscallArg arg in rule.Args!) EmitArgCheck(asm, arg, nextRule);
                asm.Emit(Ret, ActionValue(rule.Action, rule.ErrnoRet, profile.DefaultErrnoRet ?? EPERM));
                asm.Mark(nextRule);
            }
            OciSyscall? plain = rules.FirstOrDefault(r => r.Args is not { Count: > 0 });
            asm.Emit(Ret, plain is null ? defaultRet : ActionValue(plain.Action, plain.ErrnoRet, profile.DefaultErrnoRet ?? EPERM));
            asm.Mark(nextGroup);
        }

        if ((defaultRet & 0xffff0000) == RetErrno)
        {
            int known = asm.NewLabel();
            asm.Jump(JgtK, SyscallTable.MaxKnown, Assembler.Next, known);
            asm.Emit(Ret, RetErrno | ENOSYS);
            asm.Mark(known);
        }
        asm.Emit(Ret, defaultRet);
    }

    private static uint ActionValue(string action, uint? errnoRet, uint fallbackErrno) => action switch
    {
        "SCMP_ACT_ALLOW" => RetAllow,
        "SCMP_ACT_ERRNO" => RetErrno | ((errnoRet ?? fallbackErrno) & 0xffff),
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => RetKillThread,
        "SCMP_ACT_KILL_PROCESS" => RetKillProcess,
        "SCMP_ACT_TRAP" => RetTrap,
        "SCMP_ACT_LOG" => RetLog,
        "SCMP_ACT_TRACE" => RetTrace | ((errnoRet ?? 0) & 0xffff),
        _ => throw new ArgumentException($"unsupported seccomp action {action}"),
    };

    /// <summary>Emits a 64-bit comparison of one argument; falls through when it holds, jumps to <paramref name="fail"/> otherwise.</summary>
    private static void EmitArgCheck(Assembler asm, OciSyscallArg arg, int fail)
    {
        if (arg.Index > 5) throw new ArgumentException($"seccomp argument index {arg.Index} out of range");
        uint lo = 16 + 8 * arg.Index, hi = lo + 4;
        uint vHi = (uint)(arg.Value >> 32), vLo = (uint)arg.Value;
        int pass = asm.NewLabel();
        switch (arg.Op)
        {
            case "SCMP_CMP_EQ":
                asm.Emit(LdAbs, hi); asm.Jump(JeqK, vHi, Assembler.Next, fail);
                asm.Emit(LdAbs, lo); asm.Jump(JeqK, vLo, Assembler.Next, fail);
                break;
            case "SCMP_CMP_NE":
                asm.Emit(LdAbs, hi); asm.Jump(JeqK, vHi, Assembler.Next, pass);
                asm.Emit(LdAbs, lo); asm.Jump(JeqK, vLo, fail, Assembler.Next);
                break;
            case "SCMP_CMP_MASKED_EQ":
                uint eHi = (uint)(arg.ValueTwo >> 32), eLo = (uint)arg.ValueTwo;
                asm.Emit(LdAbs, hi); asm.Emit(AndK, vHi); asm.Jump(JeqK, eHi, Assembler.Next, fail);
                asm.Emit(LdAbs, lo); asm.Emit(AndK, vLo); asm.Jump(JeqK, eLo, Assembler.Next, fail);
                break;
            case "SCMP_CMP_GE":
            case "SCMP_CMP_GT":
                asm.Emit(LdAbs, hi); asm.Jump(JgtK, vHi, pass, Assembler.Next); asm.Jump(JeqK, vHi, Assembler.Next, fail);
                asm.Emit(LdAbs, lo); asm.Jump(arg.Op == "SCMP_CMP_GE" ? JgeK : JgtK, vLo, Assembler.Next, fail);
                break;
            case "SCMP_CMP_LT":
            case "SCMP_CMP_LE":
                asm.Emit(LdAbs, hi); asm.Jump(JgtK, vHi, fail, Assembler.Next); asm.Jump(JeqK, vHi, Assembler.Next, pass);
                asm.Emit(LdAbs, lo); asm.Jump(arg.Op == "SCMP_CMP_LT" ? JgeK : JgtK, vLo, fail, Assembler.Next);
                break;
            default:
                throw new ArgumentException($"unsupported seccomp operator {arg.Op}");
        }
        asm.Mark(pass);
    }

    /// <summary>Collects instructions with symbolic jump targets and resolves them to BPF's 8-bit relative offsets.</summary>
    private sealed class Assembler
    {
        public const int Next = -1;
        private readonly List<(ushort Code, uint K, int Jt, int Jf)> _code = [];
        private readonly List<int> _labels = [];

        public int NewLabel() { _labels.Add(-1); return _labels.Count - 1; }
        public void Mark(int label) => _labels[label] = _code.Count;
        public void Emit(ushort code, uint k) => _code.Add((code, k, Next, Next));
        public void Jump(ushort code, uint k, int jt, int jf) => _code.Add((code, k, jt, jf));

        /// <summary>An unconditional jump with a 32-bit offset (BPF_JA keeps it in k).</summary>
        public void JumpAlways(int label) => _code.Add((Ja, (uint)label, Next, Next));

        public Libc.SockFilter[] Build()
        {
            if (_code.Count > 4096) throw new InvalidOperationException($"seccomp program too long ({_code.Count} instructions)");
            var result = new Libc.SockFilter[_code.Count];
            for (int i = 0; i < _code.Count; i++)
            {
                var (code, k, jt, jf) = _code[i];
                if (code == Ja)
                {
                    int target = _labels[(int)k];
                    if (target <= i) throw new InvalidOperationException("seccomp jump backwards");
                    result[i] = new Libc.SockFilter { Code = code, K = (uint)(target - i - 1) };
                    continue;
                }
                result[i] = new Libc.SockFilter { Code = code, K = k, Jt = Offset(i, jt), Jf = Offset(i, jf) };
            }
            return result;
        }

        private byte Offset(int at, int label)
        {
            if (label == Next) return 0;
            int target = _labels[label];
            int off = target - at - 1;
            if (target < 0 || off < 0 || off > 255) throw new InvalidOperationException("seccomp jump out of range");
            return (byte)off;
        }
    }
}
